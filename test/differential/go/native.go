package main

import (
	"bytes"
	"io/fs"
	"strconv"
)

// Readers for the native /api/* routes (server/routes.go, server/create.go). Each binds the body
// like the handler does and then reports what the handler goes on to use. Checks that need the
// model store (does the model exist, is the name valid) are not modelled: names are reported as
// decoded and left to Gatehouse's own name rules.

func readShow(body []byte) Reading {
	var req showRequest
	if err := bindJSON(body, &req); err != nil {
		return refused("decode", err.Error())
	}
	if req.Model == "" && req.Name == "" {
		return refused("validate", "model is required")
	}
	// ShowHandler copies options into the response's parameters; it never applies them with
	// FromMap, so nothing of them is reported here.
	return Reading{"ok": true, "models": map[string]string{"model": req.Model, "name": req.Name}}
}

func readGenerate(body []byte) Reading {
	var req generateRequest
	if err := bindJSON(body, &req); err != nil {
		return refused("decode", err.Error())
	}
	// GenerateHandler's first check after binding, before it looks the model up.
	if req.TopLogprobs < 0 || req.TopLogprobs > 20 {
		return refused("validate", "top_logprobs must be between 0 and 20")
	}
	r := Reading{"ok": true, "models": map[string]string{"model": req.Model}, "stream": nullableBool(req.Stream),
		"keepAlive": keepAlive(req.KeepAlive), "images": len(req.Images)}
	return withOptions(r, req.Options, true)
}

func readChat(body []byte) Reading {
	var req chatRequest
	if err := bindJSON(body, &req); err != nil {
		return refused("decode", err.Error())
	}
	if req.TopLogprobs < 0 || req.TopLogprobs > 20 {
		return refused("validate", "top_logprobs must be between 0 and 20")
	}
	r := Reading{"ok": true, "models": map[string]string{"model": req.Model}, "stream": nullableBool(req.Stream),
		"keepAlive": keepAlive(req.KeepAlive), "images": chatImages(req.Messages)}
	return withOptions(r, req.Options, true)
}

// chatImages counts every entry of every message's images: each one is handed to the model as
// media (an entry that decoded from null or "" is still an entry).
func chatImages(msgs []message) int {
	n := 0
	for _, m := range msgs {
		n += len(m.Images)
	}
	return n
}

func readEmbed(body []byte) Reading {
	var req embedRequest
	if err := bindJSON(body, &req); err != nil {
		return refused("decode", err.Error())
	}
	// EmbedHandler's reading of `input`: a non-empty string is one input, "" is none, an array
	// must hold only strings (each one an input, "" included), null or absent is none, and any
	// other type is "invalid input type" (400, before the model is loaded).
	inputs := 0
	switch in := req.Input.(type) {
	case string:
		if len(in) > 0 {
			inputs = 1
		}
	case []any:
		for _, v := range in {
			if _, ok := v.(string); !ok {
				return refused("validate", "invalid input type")
			}
		}
		inputs = len(in)
	default:
		if req.Input != nil {
			return refused("validate", "invalid input type")
		}
	}
	r := Reading{"ok": true, "models": map[string]string{"model": req.Model}, "keepAlive": keepAlive(req.KeepAlive),
		"embedInputs": inputs}
	return withOptions(r, req.Options, false)
}

func readEmbeddings(body []byte) Reading {
	var req embeddingRequest
	if err := bindJSON(body, &req); err != nil {
		return refused("decode", err.Error())
	}
	r := Reading{"ok": true, "models": map[string]string{"model": req.Model}, "keepAlive": keepAlive(req.KeepAlive)}
	return withOptions(r, req.Options, false)
}

// withOptions applies the request's options as scheduleRunner does (modelOptions → FromMap) for a
// local model. A FromMap error is a 400 that depends on the body alone. (A name with a :cloud or
// -cloud suffix is proxied to ollama.com before options are applied; that case is not modelled.)
func withOptions(r Reading, opts map[string]any, reportCap bool) Reading {
	applied, err := applyOptions(opts)
	if err != nil {
		return refused("options", err.Error())
	}
	if reportCap {
		r["outputCap"] = applied.numPredict
	}
	r["numCtx"] = applied.numCtx
	r["runnerOptions"] = applied.runner
	return r
}

func keepAlive(d *duration) keepAliveValue {
	if d == nil {
		return keepAliveValue{Set: false, Ns: "0"}
	}
	return keepAliveValue{Set: true, Ns: strconv.FormatInt(int64(d.Duration), 10)}
}

func readPull(body []byte) Reading {
	var req pullRequest
	if err := bindJSON(body, &req); err != nil {
		return refused("decode", err.Error())
	}
	// PullHandler uses cmp.Or(model, name); both are reported.
	return Reading{"ok": true, "models": map[string]string{"model": req.Model, "name": req.Name},
		"stream": nullableBool(req.Stream), "insecure": req.Insecure}
}

func readPush(body []byte) Reading {
	var req pullRequest // api.PushRequest has the same fields and tags
	if err := bindJSON(body, &req); err != nil {
		return refused("decode", err.Error())
	}
	if req.Model == "" && req.Name == "" {
		return refused("validate", "model is required") // PushHandler, before anything else
	}
	return Reading{"ok": true, "models": map[string]string{"model": req.Model, "name": req.Name},
		"stream": nullableBool(req.Stream), "insecure": req.Insecure}
}

func readCreate(body []byte) Reading {
	var req createRequest
	if err := bindJSON(body, &req); err != nil {
		return refused("decode", err.Error())
	}
	// CreateHandler's checks of the decoded body, in its order, before the name is parsed.
	for path, digest := range req.Files {
		if !fs.ValidPath(path) {
			return refused("validate", "file path must be relative")
		}
		if digest == "" {
			return refused("validate", "invalid digest format")
		}
	}
	for path, digest := range req.DraftFiles {
		if !fs.ValidPath(path) {
			return refused("validate", "file path must be relative")
		}
		if digest == "" {
			return refused("validate", "invalid digest format")
		}
	}
	if req.DraftQuantize != "" && len(req.DraftFiles) == 0 {
		return refused("validate", "--draft-quantize requires a DRAFT model")
	}
	for _, digest := range req.Adapters {
		if digest == "" {
			return refused("validate", "invalid digest format")
		}
	}
	return Reading{"ok": true, "models": map[string]string{"model": req.Model, "name": req.Name, "from": req.From},
		"stream": nullableBool(req.Stream), "from": req.From, "remoteHost": req.RemoteHost,
		"files": stringMap(req.Files), "adapters": stringMap(req.Adapters), "draftFiles": stringMap(req.DraftFiles)}
}

func readCopy(body []byte) Reading {
	var req copyRequest
	if err := bindJSON(body, &req); err != nil {
		return refused("decode", err.Error())
	}
	return Reading{"ok": true, "models": map[string]string{"source": req.Source, "destination": req.Destination}}
}

func readDelete(body []byte) Reading {
	var req deleteRequest
	if err := bindJSON(body, &req); err != nil {
		return refused("decode", err.Error())
	}
	return Reading{"ok": true, "models": map[string]string{"model": req.Model, "name": req.Name}}
}

// readWebProxy is webExperimentalProxyHandler: the body is read whole and forwarded to
// ollama.com unparsed; the only refusal is a body that is empty after bytes.TrimSpace.
func readWebProxy(body []byte) Reading {
	if len(bytes.TrimSpace(body)) == 0 { // Unicode White_Space, as Go defines it
		return refused("validate", "missing request body")
	}
	return Reading{"ok": true}
}
