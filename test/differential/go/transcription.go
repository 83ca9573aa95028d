package main

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"sort"
)

// readTranscription is TranscriptionMiddleware (middleware/openai.go): net/http's own
// ParseMultipartForm(25 << 20) on a POST with the given Content-Type, then FormValue("model")
// (the FIRST "model" value: r.Form lists the URL query first, which Gatehouse never forwards,
// then the multipart values in body order), FormFile("file") (the first part named "file" that
// has a filename), and a refusal for a missing model, a missing file or an empty file.
func readTranscription(contentType string, body []byte) Reading {
	if err := newerHeaderRules(contentType, body); err != nil {
		return refused("multipart", "failed to parse multipart form: "+err.Error())
	}
	req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:11434/v1/audio/transcriptions", bytes.NewReader(body))
	if err != nil {
		return refused("frame", err.Error())
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if err := req.ParseMultipartForm(25 << 20); err != nil {
		return refused("multipart", "failed to parse multipart form: "+err.Error())
	}
	defer req.MultipartForm.RemoveAll()

	model := req.FormValue("model")
	if model == "" {
		return refused("validate", "model is required")
	}
	file, _, err := req.FormFile("file")
	if err != nil {
		return refused("validate", "file is required: "+err.Error())
	}
	defer file.Close()
	audio, err := io.ReadAll(file)
	if err != nil {
		return refused("validate", "failed to read audio file")
	}
	if len(audio) == 0 {
		return refused("validate", "audio file is empty")
	}

	fields := map[string][]string{}
	for name, values := range req.MultipartForm.Value {
		fields[name] = values
	}
	modelValues := fields["model"]
	if modelValues == nil {
		modelValues = []string{}
	}
	return Reading{"ok": true, "models": map[string]string{"model": model}, "model": model, "modelValues": modelValues,
		"hasFile": true, "fileSize": len(audio), "fields": fields}
}

// newerHeaderRules applies to each part's header block the two checks that net/textproto gained
// after Go 1.19 (Ollama is built with a newer Go; this reader runs on Debian's 1.19): a header
// name may hold only token characters and spaces, and a header value may hold no control
// character other than tab (so a lone CR inside a line is refused). Go 1.19 keeps such headers
// (names unchanged, values as read), which is what makes the check possible after the fact. The
// one newer refusal this cannot see is a header line with an empty name (": x"), which Go 1.19
// drops silently; the generator does not produce it.
//
// Parts are walked as ReadForm walks them (NextPart, quoted-printable decoding included); a body
// that Go 1.19 itself cannot parse is left for ParseMultipartForm to refuse.
func newerHeaderRules(contentType string, body []byte) error {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || mediaType != "multipart/form-data" {
		return nil
	}
	boundary, ok := params["boundary"]
	if !ok {
		return nil
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextPart()
		if err != nil {
			return nil
		}
		names := make([]string, 0, len(p.Header))
		for name := range p.Header {
			names = append(names, name)
		}
		sort.Strings(names) // a stable error message
		for _, name := range names {
			if !newerHeaderName(name) {
				return fmt.Errorf("malformed MIME header line: %s", name)
			}
			for _, v := range p.Header[name] {
				if !newerHeaderValue(v) {
					return fmt.Errorf("malformed MIME header line: %s: %s", name, v)
				}
			}
		}
	}
}

func newerHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c != ' ' && !tokenByte(c) {
			return false
		}
	}
	return true
}

// newerHeaderValue: VCHAR, SP, HTAB and obs-text (0x80-0xFF) only.
func newerHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7e) || c >= 0x80 {
			continue
		}
		return false
	}
	return true
}

// tokenByte is RFC 7230's tchar.
func tokenByte(c byte) bool {
	if c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
