package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"time"
)

// duration is api.Duration (keep_alive). Its UnmarshalJSON decodes the value into `any` first:
//   - a number is seconds: negative means "forever" (math.MaxInt64 ns), otherwise
//     time.Duration(seconds * 1e9), a float64→int64 conversion with the architecture's
//     out-of-range behaviour (amd64 gives math.MinInt64 for 1e10 seconds);
//   - a string goes through time.ParseDuration ("300" has no unit and is an error); a negative
//     result means forever;
//   - anything else (true, {}, []) is an error. null never reaches it: the field is a pointer,
//     and encoding/json sets a pointer to nil for null without calling UnmarshalJSON.
type duration struct {
	time.Duration
}

func (d *duration) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	d.Duration = 5 * time.Minute
	switch t := v.(type) {
	case float64:
		if t < 0 {
			d.Duration = time.Duration(math.MaxInt64)
		} else {
			d.Duration = time.Duration(t * float64(time.Second))
		}
	case string:
		parsed, err := time.ParseDuration(t)
		if err != nil {
			return err
		}
		d.Duration = parsed
		if d.Duration < 0 {
			d.Duration = time.Duration(math.MaxInt64)
		}
	default:
		return fmt.Errorf("Unsupported type: '%s'", reflect.TypeOf(v))
	}
	return nil
}

// MarshalJSON matches api.Duration's, for the round trip of a converted request.
func (d duration) MarshalJSON() ([]byte, error) {
	if d.Duration < 0 {
		return []byte("-1"), nil
	}
	return []byte(`"` + d.Duration.String() + `"`), nil
}

// thinkValue is api.ThinkValue: a bool, or one of the strings "high", "medium", "low", "max";
// any other string or type is a decode error.
type thinkValue struct {
	Value any
}

func (t *thinkValue) UnmarshalJSON(data []byte) error {
	var b bool
	if err := json.Unmarshal(data, &b); err == nil {
		t.Value = b
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		switch s {
		case "high", "medium", "low", "max":
			t.Value = s
			return nil
		}
		return fmt.Errorf("invalid think value: %q", s)
	}
	return errors.New("think must be a boolean or string")
}

func (t *thinkValue) MarshalJSON() ([]byte, error) {
	if t == nil || t.Value == nil {
		return []byte("null"), nil
	}
	return json.Marshal(t.Value)
}

// propertyType is api.PropertyType: a string or an array of strings.
type propertyType []string

func (p *propertyType) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*p = []string{s}
		return nil
	}
	var a []string
	if err := json.Unmarshal(data, &a); err != nil {
		return err
	}
	*p = a
	return nil
}

// orderedObject stands for api.ToolCallFunctionArguments, an insertion-ordered map that Ollama
// decodes with github.com/wk8/go-ordered-map (jsonparser.ObjectEach). What matters here is what
// it accepts: null (the inner map pointer is set to nil) or a JSON object, each value decoded
// into `any`; an array, string, number or boolean is an error. Key order is not reported, so a
// plain map stands in for the ordered one.
type orderedObject struct {
	m map[string]any
}

func (o *orderedObject) UnmarshalJSON(data []byte) error {
	trimmed := bytes.TrimSpace(data)
	if bytes.Equal(trimmed, []byte("null")) {
		o.m = nil
		return nil
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return errors.New("Value is not an object")
	}
	return json.Unmarshal(data, &o.m)
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	if o.m == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(o.m)
}

// toolProperties is api.ToolPropertiesMap, the ordered map of a tool's parameters; it is always
// behind a pointer, so null leaves it nil, and otherwise it must be an object of toolProperty.
type toolProperties struct {
	m map[string]toolProperty
}

func (t *toolProperties) UnmarshalJSON(data []byte) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return errors.New("Value is not an object")
	}
	return json.Unmarshal(data, &t.m)
}

func (t toolProperties) MarshalJSON() ([]byte, error) {
	if t.m == nil {
		return []byte("null"), nil
	}
	return json.Marshal(t.m)
}

// UnmarshalJSON mirrors api.Message's: decode into a type without the method (so the struct's
// fields are matched as usual), then lowercase the role.
func (m *message) UnmarshalJSON(b []byte) error {
	type plain message
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*m = message(p)
	m.Role = strings.ToLower(m.Role)
	return nil
}
