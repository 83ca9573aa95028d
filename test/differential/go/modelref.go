package main

import (
	"encoding/json"
	"strings"
)

// cloudPassthrough mirrors cloudPassthroughMiddleware (server/cloud_proxy.go), which runs before
// the OpenAI and Anthropic middlewares on /v1/chat/completions, /v1/completions, /v1/embeddings,
// /v1/responses and /v1/messages. It reads the model its own way: json.Unmarshal of the WHOLE
// body into map[string]json.RawMessage (so trailing data makes it give up), the key "model"
// spelled exactly (map lookup: no case folding; the last exact "model" wins), the value decoded
// as a string and trimmed. When that name carries an explicit cloud source (":cloud", "-cloud")
// and is a valid name, the raw body is proxied to ollama.com with only "model" rewritten, and the
// local middleware and handler never run, unless the body declares the built-in web-search tool.
//
// It returns the trimmed model string when that proxying happens. This is the reading that can
// differ from the struct binding: {"model":"x:cloud","Model":"llama3.2"} is proxied as x:cloud
// while ShouldBindJSON reads llama3.2 (and a body the binding would refuse is proxied all the
// same).
func cloudPassthrough(path string, body []byte) (string, bool) {
	model, ok := exactModelField(body)
	if !ok {
		return "", false
	}
	base, source, err := parseSourceRef(model)
	if err != nil || source != sourceCloud || !validName(base) {
		return "", false
	}
	if declaresWebSearch(path, body) {
		return "", false
	}
	return model, true
}

// withPassthrough completes a compatibility route's reading: when the passthrough middleware
// proxies the raw body, the model Ollama acts on is the passthrough's, and the local reading
// (kept when it succeeds, as what ollama.com's identical code would read) never refuses it.
func withPassthrough(path string, body []byte, local Reading) Reading {
	model, proxied := cloudPassthrough(path, body)
	if !proxied {
		if local["ok"] == true {
			local["cloudPassthrough"] = nil
		}
		return local
	}
	if local["ok"] != true {
		local = Reading{"ok": true}
	}
	local["models"] = map[string]string{"model": model}
	local["cloudPassthrough"] = model
	return local
}

func exactModelField(body []byte) (string, bool) {
	if len(body) == 0 {
		return "", false
	}
	var payload map[string]json.RawMessage
	if err := json.Unmarshal(body, &payload); err != nil {
		return "", false
	}
	raw, ok := payload["model"]
	if !ok {
		return "", false
	}
	var model string
	if err := json.Unmarshal(raw, &model); err != nil {
		return "", false
	}
	model = strings.TrimSpace(model)
	return model, model != ""
}

// declaresWebSearch is the passthrough's hasWebSearchTool: for /v1/responses a tool whose type is
// exactly "web_search" (tools decoded as []openai.ResponsesTool); for /v1/messages a tool whose
// trimmed type starts with "web_search".
func declaresWebSearch(path string, body []byte) bool {
	switch path {
	case "/v1/responses":
		var payload struct {
			Tools []responsesTool `json:"tools"`
		}
		if json.Unmarshal(body, &payload) != nil {
			return false
		}
		for _, t := range payload.Tools {
			if t.Type == "web_search" {
				return true
			}
		}
	case "/v1/messages":
		var payload struct {
			Tools []struct {
				Type string `json:"type"`
			} `json:"tools"`
		}
		if json.Unmarshal(body, &payload) != nil {
			return false
		}
		for _, t := range payload.Tools {
			if strings.HasPrefix(strings.TrimSpace(t.Type), "web_search") {
				return true
			}
		}
	}
	return false
}

type modelSource int

const (
	sourceUnspecified modelSource = iota
	sourceLocal
	sourceCloud
)

type refError string

func (e refError) Error() string { return string(e) }

// parseSourceRef follows internal/modelref.ParseRef: trim, refuse "", then look at what follows
// the last ':' — "cloud"/"local" in any case, or a tag ending in "-cloud" — and refuse a name
// that carries two such suffixes.
func parseSourceRef(raw string) (string, modelSource, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", sourceUnspecified, refError("model is required")
	}
	base, source, explicit := sourceSuffix(raw)
	if explicit {
		if _, _, nested := sourceSuffix(base); nested {
			return "", sourceUnspecified, refError("use either :local or :cloud, not both")
		}
	}
	return base, source, nil
}

func sourceSuffix(raw string) (string, modelSource, bool) {
	idx := strings.LastIndex(raw, ":")
	if idx < 0 {
		return raw, sourceUnspecified, false
	}
	suffixRaw := strings.TrimSpace(raw[idx+1:])
	suffix := strings.ToLower(suffixRaw)
	switch suffix {
	case "cloud":
		return raw[:idx], sourceCloud, true
	case "local":
		return raw[:idx], sourceLocal, true
	}
	if !strings.Contains(suffixRaw, "/") && strings.HasSuffix(suffix, "-cloud") {
		return raw[:idx+1] + suffixRaw[:len(suffixRaw)-len("-cloud")], sourceCloud, true
	}
	return raw, sourceUnspecified, false
}

// validName is model.ParseName(s).IsValid() (types/model/name.go): split host/namespace/model:tag
// from the right, fill the defaults (registry.ollama.ai, library, latest), and check each part's
// length and characters.
func validName(s string) bool {
	host, namespace, model, tag := splitName(s)
	if host == "" {
		host = "registry.ollama.ai"
	}
	if namespace == "" {
		namespace = "library"
	}
	if tag == "" {
		tag = "latest"
	}
	return validPart(partHost, host) && validPart(partNamespace, namespace) &&
		validPart(partModel, model) && validPart(partTag, tag)
}

// missingPart is what a part "promised" by a separator but left empty becomes; it never validates.
const missingPart = "!MISSING!"

func splitName(s string) (host, namespace, model, tag string) {
	if strings.LastIndex(s, ":") > strings.LastIndex(s, "/") {
		s, tag = cutLastPromised(s, ":")
	}
	var promised bool
	if i := strings.LastIndex(s, "/"); i >= 0 {
		s, model = cutLastPromised(s, "/")
		promised = true
	}
	if !promised {
		return "", "", s, tag
	}
	if i := strings.LastIndex(s, "/"); i < 0 {
		return "", s, model, tag
	}
	s, namespace = cutLastPromised(s, "/")
	if _, after, ok := strings.Cut(s, "://"); ok {
		s = after
	}
	return s, namespace, model, tag
}

func cutLastPromised(s, sep string) (string, string) {
	i := strings.LastIndex(s, sep)
	before, after := s[:i], s[i+len(sep):]
	if before == "" {
		before = missingPart
	}
	if after == "" {
		after = missingPart
	}
	return before, after
}

type partKind int

const (
	partHost partKind = iota
	partNamespace
	partModel
	partTag
)

func validPart(kind partKind, s string) bool {
	max := 80
	if kind == partHost {
		max = 350
	}
	if len(s) < 1 || len(s) > max {
		return false
	}
	for i := range s { // byte offsets of runes, each checked as the byte found there
		c := s[i]
		if i == 0 {
			if !alnumOrUnderscore(c) {
				return false
			}
			continue
		}
		switch c {
		case '_', '-':
		case '.':
			if kind == partNamespace {
				return false
			}
		case ':':
			if kind != partHost {
				return false
			}
		default:
			if !alnumOrUnderscore(c) {
				return false
			}
		}
	}
	return true
}

func alnumOrUnderscore(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'
}
