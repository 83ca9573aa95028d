package main

import "fmt"

// optionKind is the Go type of one field of api.Options (and its embedded api.Runner), which
// decides what (*api.Options).FromMap accepts for the option of that JSON name.
type optionKind int

const (
	kindInt     optionKind = iota // int: a JSON number, converted with int64(float64)
	kindFloat32                   // float32: a JSON number
	kindBool                      // bool
	kindString                    // string
	kindStrings                   // []string: an array whose items are all strings
	kindIntPtr                    // *int (main_gpu): a JSON number
	kindBoolPtr                   // *bool (use_mmap)
)

// optionKinds lists every option FromMap knows, by the json tag of its field in api.Options and
// api.Runner. A key that is not here is logged and ignored by Ollama; keys are matched exactly
// (options is a map[string]any, so "NUM_PREDICT" is just another unknown key).
var optionKinds = map[string]optionKind{
	// api.Runner: applied when a model is loaded.
	"num_ctx": kindInt, "num_batch": kindInt, "num_gpu": kindInt, "main_gpu": kindIntPtr,
	"use_mmap": kindBoolPtr, "num_thread": kindInt, "draft_num_predict": kindInt,
	// api.Options: applied per request.
	"num_keep": kindInt, "seed": kindInt, "num_predict": kindInt, "top_k": kindInt,
	"top_p": kindFloat32, "min_p": kindFloat32, "typical_p": kindFloat32, "repeat_last_n": kindInt,
	"temperature": kindFloat32, "repeat_penalty": kindFloat32, "presence_penalty": kindFloat32,
	"frequency_penalty": kindFloat32, "stop": kindStrings,
}

// runnerOptionNames are the options Gatehouse's allow_runner_options governs, in report order.
var runnerOptionNames = []string{"num_gpu", "main_gpu", "num_batch", "num_thread", "use_mmap"}

// appliedOptions is what this reader reports of FromMap's result.
type appliedOptions struct {
	numPredict capValue
	numCtx     capValue
	runner     []string
}

// applyOptions follows (*api.Options).FromMap over a request's options map: a nil value is
// skipped, an unknown key is ignored, and a value of the wrong JSON type is an error that turns
// the request down with a 400. Integer fields take a float64 through int64(t) (Go truncates
// toward zero: 0.5 → 0, -0.5 → 0; out of int64's range the result is whatever this
// architecture's conversion gives). Ollama ranges over the map in Go's random order and stops at
// the first bad value, so only the message of an error can vary, never whether there is one.
func applyOptions(opts map[string]any) (appliedOptions, error) {
	out := appliedOptions{numPredict: unsetCap(), numCtx: unsetCap(), runner: []string{}}
	values := map[string]int64{}
	for key, val := range opts {
		kind, known := optionKinds[key]
		if !known || val == nil {
			continue
		}
		switch kind {
		case kindInt, kindIntPtr:
			f, ok := val.(float64) // JSON numbers decode into any as float64
			if !ok {
				return out, fmt.Errorf("option %q must be of type integer", key)
			}
			values[key] = int64(f)
		case kindFloat32:
			if _, ok := val.(float64); !ok {
				return out, fmt.Errorf("option %q must be of type float32", key)
			}
		case kindBool, kindBoolPtr:
			if _, ok := val.(bool); !ok {
				return out, fmt.Errorf("option %q must be of type boolean", key)
			}
		case kindString:
			if _, ok := val.(string); !ok {
				return out, fmt.Errorf("option %q must be of type string", key)
			}
		case kindStrings:
			items, ok := val.([]any)
			if !ok {
				return out, fmt.Errorf("option %q must be of type array", key)
			}
			for _, item := range items {
				if _, ok := item.(string); !ok {
					return out, fmt.Errorf("option %q must be of an array of strings", key)
				}
			}
		}
	}
	if v, ok := values["num_predict"]; ok {
		out.numPredict = setCap(v)
	}
	if v, ok := values["num_ctx"]; ok {
		out.numCtx = setCap(v)
	}
	for _, name := range runnerOptionNames {
		if v, present := opts[name]; present && v != nil {
			out.runner = append(out.runner, name)
		}
	}
	return out, nil
}
