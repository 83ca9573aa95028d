package main

import (
	"strconv"
)

// Reading is one answer line. Keys that do not apply to a route are left out; the TypeScript
// side (test/differential/go-reader.ts, interface GoReading) documents every key.
type Reading map[string]any

// refused is Ollama turning the body down before any model, registry or file is touched.
// stage says where: "decode" (JSON binding), "multipart" (ParseMultipartForm), "convert"
// (an OpenAI/Anthropic middleware's conversion), "validate" (a handler's check of the decoded
// body), "options" (Options.FromMap), or "frame"/"panic" for a problem of this reader itself.
func refused(stage, msg string) Reading {
	return Reading{"ok": false, "stage": stage, "error": msg}
}

// capValue is an int64 that may or may not be set, as a decimal string: int64 exceeds 2^53, so
// a JSON number would not survive JavaScript.
type capValue struct {
	Set   bool   `json:"set"`
	Value string `json:"value"`
}

func unsetCap() capValue      { return capValue{Set: false, Value: "0"} }
func setCap(v int64) capValue { return capValue{Set: true, Value: strconv.FormatInt(v, 10)} }

// keepAliveValue is an *api.Duration as nanoseconds, or not set (a nil pointer).
type keepAliveValue struct {
	Set bool   `json:"set"`
	Ns  string `json:"ns"`
}

// nullableBool is a *bool as JSON true/false/null.
func nullableBool(p *bool) any {
	if p == nil {
		return nil
	}
	return *p
}

// stringMap keeps nil (JSON null or absent) apart from an empty map ({}).
func stringMap(m map[string]string) any {
	if m == nil {
		return nil
	}
	return m
}
