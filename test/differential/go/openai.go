package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Structs shaped like openai/openai.go's requests, and the conversions of middleware/openai.go.
// Note what is NOT here: ChatCompletionRequest has no max_completion_tokens (Ollama ignores it),
// and none of these structs has options, keep_alive or num_ctx, so a client of /v1/* cannot set
// them: the converted native request carries only what the conversion puts there.

type openaiMessage struct {
	Role       string           `json:"role"`
	Content    any              `json:"content"`
	Reasoning  string           `json:"reasoning,omitempty"`
	ToolCalls  []openaiToolCall `json:"tool_calls,omitempty"`
	Name       string           `json:"name,omitempty"`
	ToolCallID string           `json:"tool_call_id,omitempty"`
}

type openaiToolCall struct {
	ID       string `json:"id"`
	Index    int    `json:"index"`
	Type     string `json:"type"`
	Function struct {
		Name      string `json:"name"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

type responseFormat struct {
	Type       string `json:"type"`
	JsonSchema *struct {
		Schema json.RawMessage `json:"schema"`
	} `json:"json_schema,omitempty"`
}

type chatCompletionRequest struct {
	Model            string          `json:"model"`
	Messages         []openaiMessage `json:"messages"`
	Stream           bool            `json:"stream"`
	StreamOptions    *streamOptions  `json:"stream_options"`
	MaxTokens        *int            `json:"max_tokens"`
	Seed             *int            `json:"seed"`
	Stop             any             `json:"stop"`
	Temperature      *float64        `json:"temperature"`
	FrequencyPenalty *float64        `json:"frequency_penalty"`
	PresencePenalty  *float64        `json:"presence_penalty"`
	TopP             *float64        `json:"top_p"`
	ResponseFormat   *responseFormat `json:"response_format"`
	Tools            []tool          `json:"tools"`
	Reasoning        *struct {
		Effort string `json:"effort,omitempty"`
	} `json:"reasoning,omitempty"`
	ReasoningEffort *string `json:"reasoning_effort,omitempty"`
	Logprobs        *bool   `json:"logprobs"`
	TopLogprobs     int     `json:"top_logprobs"`
	DebugRenderOnly bool    `json:"_debug_render_only"`
}

type completionRequest struct {
	Model            string         `json:"model"`
	Prompt           string         `json:"prompt"`
	FrequencyPenalty float32        `json:"frequency_penalty"`
	MaxTokens        *int           `json:"max_tokens"`
	PresencePenalty  float32        `json:"presence_penalty"`
	Seed             *int           `json:"seed"`
	Stop             any            `json:"stop"`
	Stream           bool           `json:"stream"`
	StreamOptions    *streamOptions `json:"stream_options"`
	Temperature      *float32       `json:"temperature"`
	TopP             float32        `json:"top_p"`
	Suffix           string         `json:"suffix"`
	Logprobs         *int           `json:"logprobs"`
	DebugRenderOnly  bool           `json:"_debug_render_only"`
}

type openaiEmbedRequest struct {
	Input          any    `json:"input"`
	Model          string `json:"model"`
	Dimensions     int    `json:"dimensions,omitempty"`
	EncodingFormat string `json:"encoding_format,omitempty"`
}

// convertedChat is the api.ChatRequest a middleware builds, with the fields that matter to what
// the native handler then reads; it is encoded and read again by readChat (see roundTrip).
type convertedChat struct {
	Model       string         `json:"model"`
	Messages    []message      `json:"messages"`
	Stream      *bool          `json:"stream,omitempty"`
	Options     map[string]any `json:"options"`
	Think       *thinkValue    `json:"think,omitempty"`
	Logprobs    bool           `json:"logprobs,omitempty"`
	TopLogprobs int            `json:"top_logprobs,omitempty"`
}

type convertedGenerate struct {
	Model       string         `json:"model"`
	Prompt      string         `json:"prompt"`
	Suffix      string         `json:"suffix"`
	Stream      *bool          `json:"stream,omitempty"`
	Options     map[string]any `json:"options"`
	Logprobs    bool           `json:"logprobs,omitempty"`
	TopLogprobs int            `json:"top_logprobs,omitempty"`
}

func readOpenAIChat(body []byte) Reading {
	return withPassthrough("/v1/chat/completions", body, readOpenAIChatLocally(body))
}

func readOpenAIChatLocally(body []byte) Reading {
	var req chatCompletionRequest
	if err := bindJSON(body, &req); err != nil {
		return refused("decode", err.Error())
	}
	if len(req.Messages) == 0 {
		return refused("validate", "[] is too short - 'messages'")
	}
	converted, err := fromChatCompletion(req)
	if err != nil {
		return refused("convert", err.Error())
	}
	native := readConverted(converted, readChat)
	if native["ok"] != true {
		return native
	}
	r := Reading{"ok": true, "models": map[string]string{"model": req.Model}, "stream": req.Stream,
		"includeUsage": includeUsage(req.StreamOptions), "outputCap": native["outputCap"],
		"images": native["images"]}
	return r
}

func includeUsage(o *streamOptions) any {
	if o == nil {
		return nil
	}
	return o.IncludeUsage
}

// readConverted encodes a converted request and reads it with the native reader, as the native
// handler binds the middleware's output.
func readConverted(v any, native func([]byte) Reading) Reading {
	b, err := roundTrip(v)
	if err != nil {
		return refused("convert", err.Error())
	}
	return native(b)
}

// fromChatCompletion is openai.FromChatRequest, reduced to what reaches the numbers reported:
// messages (for images and for its errors), options (num_predict from max_tokens), stream,
// think (reasoning effort, which can be refused) and top_logprobs (checked by ChatHandler).
func fromChatCompletion(r chatCompletionRequest) (convertedChat, error) {
	var msgs []message
	for _, m := range r.Messages {
		switch content := m.Content.(type) {
		case string:
			if err := checkToolCallArguments(m.ToolCalls); err != nil {
				return convertedChat{}, err
			}
			msgs = append(msgs, message{Role: m.Role, Content: content})
		case []any:
			// Each content part becomes its own message; the part's "type" is read by exact map
			// lookup, so {"Type":"image_url"} has no type and is "invalid message format".
			for _, c := range content {
				part, ok := c.(map[string]any)
				if !ok {
					return convertedChat{}, errors.New("invalid message format")
				}
				switch part["type"] {
				case "text":
					text, ok := part["text"].(string)
					if !ok {
						return convertedChat{}, errors.New("invalid message format")
					}
					msgs = append(msgs, message{Role: m.Role, Content: text})
				case "image_url":
					var url string
					if urlMap, ok := part["image_url"].(map[string]any); ok {
						if url, ok = urlMap["url"].(string); !ok {
							return convertedChat{}, errors.New("invalid message format")
						}
					} else if url, ok = part["image_url"].(string); !ok {
						return convertedChat{}, errors.New("invalid message format")
					}
					img, err := decodeImageURL(url)
					if err != nil {
						return convertedChat{}, err
					}
					msgs = append(msgs, message{Role: m.Role, Images: []imageData{img}})
				case "input_audio":
					// Audio rides in the same Images slice as pictures: it is media for the model.
					audio, ok := part["input_audio"].(map[string]any)
					if !ok {
						return convertedChat{}, errors.New("invalid input_audio format")
					}
					data, ok := audio["data"].(string)
					if !ok {
						return convertedChat{}, errors.New("invalid input_audio format: missing data")
					}
					raw, err := base64.StdEncoding.DecodeString(data)
					if err != nil {
						return convertedChat{}, fmt.Errorf("invalid input_audio base64 data: %w", err)
					}
					msgs = append(msgs, message{Role: m.Role, Images: []imageData{raw}})
				default:
					return convertedChat{}, errors.New("invalid message format")
				}
			}
			if len(msgs) > 0 && len(m.ToolCalls) > 0 {
				if err := checkToolCallArguments(m.ToolCalls); err != nil {
					return convertedChat{}, err
				}
			}
		default:
			// Content may be missing only when there are tool calls (nil slice, not empty).
			if m.ToolCalls == nil {
				return convertedChat{}, fmt.Errorf("invalid message content type: %T", content)
			}
			if err := checkToolCallArguments(m.ToolCalls); err != nil {
				return convertedChat{}, err
			}
			msgs = append(msgs, message{Role: m.Role})
		}
	}

	options := map[string]any{}
	if r.MaxTokens != nil {
		options["num_predict"] = *r.MaxTokens
	}
	effort := ""
	if r.Reasoning != nil {
		effort = r.Reasoning.Effort
	} else if r.ReasoningEffort != nil {
		effort = *r.ReasoningEffort
	}
	think, err := thinkFromEffort(effort)
	if err != nil {
		return convertedChat{}, err
	}
	stream := r.Stream
	return convertedChat{Model: r.Model, Messages: msgs, Stream: &stream, Options: options, Think: think,
		Logprobs: r.Logprobs != nil && *r.Logprobs, TopLogprobs: r.TopLogprobs}, nil
}

// checkToolCallArguments is FromCompletionToolCall's one failure: each call's arguments string
// must decode as a JSON object (or null) into api.ToolCallFunctionArguments.
func checkToolCallArguments(calls []openaiToolCall) error {
	for _, c := range calls {
		var args orderedObject
		if err := json.Unmarshal([]byte(c.Function.Arguments), &args); err != nil {
			return errors.New("invalid tool call arguments")
		}
	}
	return nil
}

// thinkFromEffort is openai.thinkFromReasoningEffort: unknown efforts are refused.
func thinkFromEffort(effort string) (*thinkValue, error) {
	switch effort {
	case "":
		return nil, nil
	case "none":
		return &thinkValue{Value: false}, nil
	case "minimal":
		return &thinkValue{Value: "low"}, nil
	case "low", "medium", "high", "max":
		return &thinkValue{Value: effort}, nil
	case "xhigh", "ultra":
		return &thinkValue{Value: "max"}, nil
	}
	return nil, fmt.Errorf("invalid reasoning value: %q", effort)
}

// decodeImageURL is openai.decodeImageURL: only base64 data URIs with an empty, jpeg, jpg, png or
// webp media type (prefixes matched case-sensitively); http(s) URLs are refused.
func decodeImageURL(url string) (imageData, error) {
	if strings.HasPrefix(url, "http://") || strings.HasPrefix(url, "https://") {
		return nil, errors.New("image URLs are not currently supported, please use base64 encoded data instead")
	}
	if strings.HasPrefix(url, "data:;base64,") {
		url = strings.TrimPrefix(url, "data:;base64,")
	} else {
		valid := false
		for _, t := range []string{"jpeg", "jpg", "png", "webp"} {
			prefix := "data:image/" + t + ";base64,"
			if strings.HasPrefix(url, prefix) {
				url = strings.TrimPrefix(url, prefix)
				valid = true
				break
			}
		}
		if !valid {
			return nil, errors.New("invalid image input")
		}
	}
	img, err := base64.StdEncoding.DecodeString(url)
	if err != nil {
		return nil, errors.New("invalid image input")
	}
	return img, nil
}

func readOpenAICompletions(body []byte) Reading {
	return withPassthrough("/v1/completions", body, readOpenAICompletionsLocally(body))
}

func readOpenAICompletionsLocally(body []byte) Reading {
	var req completionRequest
	if err := bindJSON(body, &req); err != nil {
		return refused("decode", err.Error())
	}
	// openai.FromCompleteRequest: its one error is a non-string item in a "stop" array.
	if stops, ok := req.Stop.([]any); ok {
		for _, s := range stops {
			if _, ok := s.(string); !ok {
				return refused("convert", fmt.Sprintf("invalid type for 'stop' field: %T", s))
			}
		}
	}
	options := map[string]any{}
	if req.MaxTokens != nil {
		options["num_predict"] = *req.MaxTokens
	}
	logprobs, top := false, 0
	if req.Logprobs != nil && *req.Logprobs > 0 {
		logprobs, top = true, *req.Logprobs
	}
	stream := req.Stream
	native := readConverted(convertedGenerate{Model: req.Model, Prompt: req.Prompt, Suffix: req.Suffix, Stream: &stream,
		Options: options, Logprobs: logprobs, TopLogprobs: top}, readGenerate)
	if native["ok"] != true {
		return native
	}
	return Reading{"ok": true, "models": map[string]string{"model": req.Model}, "stream": req.Stream,
		"includeUsage": includeUsage(req.StreamOptions), "outputCap": native["outputCap"]}
}

func readOpenAIEmbeddings(body []byte) Reading {
	return withPassthrough("/v1/embeddings", body, readOpenAIEmbeddingsLocally(body))
}

func readOpenAIEmbeddingsLocally(body []byte) Reading {
	var req openaiEmbedRequest
	if err := bindJSON(body, &req); err != nil {
		return refused("decode", err.Error())
	}
	// EmbeddingsMiddleware's checks and rewrites, in its order.
	if req.EncodingFormat != "" && !strings.EqualFold(req.EncodingFormat, "float") && !strings.EqualFold(req.EncodingFormat, "base64") {
		return refused("validate", fmt.Sprintf("Invalid value for 'encoding_format' = %s.", req.EncodingFormat))
	}
	if req.Input == "" {
		req.Input = []string{""} // an empty string becomes one empty input, not none
	}
	if req.Input == nil {
		return refused("validate", "invalid input")
	}
	if v, ok := req.Input.([]any); ok && len(v) == 0 {
		return refused("validate", "invalid input")
	}
	native := readConverted(struct {
		Model      string `json:"model"`
		Input      any    `json:"input"`
		Dimensions int    `json:"dimensions,omitempty"`
	}{req.Model, req.Input, req.Dimensions}, readEmbed)
	if native["ok"] != true {
		return native
	}
	return Reading{"ok": true, "models": map[string]string{"model": req.Model}, "embedInputs": native["embedInputs"]}
}
