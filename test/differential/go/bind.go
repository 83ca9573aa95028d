package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// bindJSON is gin's ShouldBindJSON as Ollama runs it (gin built without the jsoniter/sonic tags,
// EnableDecoderUseNumber and EnableDecoderDisallowUnknownFields both off): one json.Decoder over
// the body, one Decode call. So only the first JSON value is read and whatever follows it
// (garbage, a second object) is never looked at; unknown fields are ignored; numbers decode as
// float64 into `any`; keys match struct tags case-insensitively, the last match winning.
func bindJSON(body []byte, v any) error {
	err := json.NewDecoder(bytes.NewReader(body)).Decode(v)
	if errors.Is(err, io.EOF) {
		// The native handlers answer "missing request body"; the compatibility middlewares
		// pass err.Error() ("EOF") on. Either way a 400 before anything else.
		return errors.New("missing request body")
	}
	return err
}

// roundTrip is what every compatibility middleware does after converting a request: encode the
// converted api.ChatRequest/GenerateRequest/EmbedRequest with encoding/json and hand the bytes to
// the native handler, which binds them again. Encoding an int and decoding it into `any` turns
// it into a float64, which is how max_tokens 2^53+1 arrives as 2^53 in num_predict.
func roundTrip(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
