package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// The Anthropic Messages request (anthropic/anthropic.go) and AnthropicMessagesMiddleware
// (middleware/anthropic.go). max_tokens is a plain int here, not a pointer: absent reads as 0,
// which the middleware refuses ("max_tokens is required and must be positive").

type anthropicRequest struct {
	Model         string             `json:"model"`
	MaxTokens     int                `json:"max_tokens"`
	Messages      []anthropicMessage `json:"messages"`
	System        any                `json:"system,omitempty"`
	Stream        bool               `json:"stream,omitempty"`
	Temperature   *float64           `json:"temperature,omitempty"`
	TopP          *float64           `json:"top_p,omitempty"`
	TopK          *int               `json:"top_k,omitempty"`
	StopSequences []string           `json:"stop_sequences,omitempty"`
	Tools         []anthropicTool    `json:"tools,omitempty"`
	ToolChoice    *struct {
		Type                   string `json:"type"`
		Name                   string `json:"name,omitempty"`
		DisableParallelToolUse bool   `json:"disable_parallel_tool_use,omitempty"`
	} `json:"tool_choice,omitempty"`
	Thinking *struct {
		Type         string `json:"type"`
		BudgetTokens int    `json:"budget_tokens,omitempty"`
	} `json:"thinking,omitempty"`
	Metadata *struct {
		UserID string `json:"user_id,omitempty"`
	} `json:"metadata,omitempty"`
	OutputConfig *struct {
		Effort string `json:"effort,omitempty"`
	} `json:"output_config,omitempty"`
}

type anthropicTool struct {
	Type        string          `json:"type,omitempty"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	InputSchema json.RawMessage `json:"input_schema,omitempty"`
	MaxUses     int             `json:"max_uses,omitempty"`
}

// anthropicMessage is anthropic.MessageParam. Its UnmarshalJSON reads role and the raw content,
// then tries content as a string (one text block) and otherwise as an array of blocks. A message
// without "content" fails both (json.Unmarshal of no bytes is an error); "content": null is the
// empty string, so one empty text block.
type anthropicMessage struct {
	Role    string
	Content []contentBlock
}

func (m *anthropicMessage) UnmarshalJSON(data []byte) error {
	var raw struct {
		Role    string          `json:"role"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	m.Role = raw.Role
	var s string
	if err := json.Unmarshal(raw.Content, &s); err == nil {
		m.Content = []contentBlock{{Type: "text", Text: &s}}
		return nil
	}
	return json.Unmarshal(raw.Content, &m.Content)
}

type contentBlock struct {
	Type      string  `json:"type"`
	Text      *string `json:"text,omitempty"`
	Citations []struct {
		Type           string `json:"type"`
		URL            string `json:"url"`
		Title          string `json:"title"`
		EncryptedIndex string `json:"encrypted_index,omitempty"`
		CitedText      string `json:"cited_text,omitempty"`
	} `json:"citations,omitempty"`
	Source    *imageSource  `json:"source,omitempty"`
	ID        string        `json:"id,omitempty"`
	Name      string        `json:"name,omitempty"`
	Input     orderedObject `json:"input"`
	ToolUseID string        `json:"tool_use_id,omitempty"`
	Content   any           `json:"content,omitempty"`
	IsError   bool          `json:"is_error,omitempty"`
	Thinking  *string       `json:"thinking,omitempty"`
	Signature string        `json:"signature,omitempty"`
}

type imageSource struct {
	Type      string `json:"type"`
	MediaType string `json:"media_type,omitempty"`
	Data      string `json:"data,omitempty"`
	URL       string `json:"url,omitempty"`
}

func readAnthropic(body []byte) Reading {
	return withPassthrough("/v1/messages", body, readAnthropicLocally(body))
}

func readAnthropicLocally(body []byte) Reading {
	var req anthropicRequest
	if err := bindJSON(body, &req); err != nil {
		return refused("decode", err.Error())
	}
	switch {
	case req.Model == "":
		return refused("validate", "model is required")
	case req.MaxTokens <= 0:
		return refused("validate", "max_tokens is required and must be positive")
	case len(req.Messages) == 0:
		return refused("validate", "messages is required")
	}
	converted, err := fromAnthropic(req)
	if err != nil {
		return refused("convert", err.Error())
	}
	native := readConverted(converted, readChat)
	if native["ok"] != true {
		return native
	}
	return Reading{"ok": true, "models": map[string]string{"model": req.Model}, "stream": req.Stream,
		"outputCap": native["outputCap"], "images": native["images"]}
}

// fromAnthropic is anthropic.FromMessagesRequest as far as images, num_predict and errors go.
// Block types are compared exactly ("Image" is an unknown block and ignored), while the block's
// keys are struct fields and match in any case. Images come from "image" blocks (base64 sources
// only) and from "image" items inside a tool_result's content array (plain maps there, so their
// keys are exact).
func fromAnthropic(r anthropicRequest) (convertedChat, error) {
	var msgs []message
	for _, m := range r.Messages {
		var images []imageData
		for _, b := range m.Content {
			switch b.Type {
			case "image":
				if b.Source == nil {
					return convertedChat{}, errors.New("invalid image source")
				}
				img, err := resolveImageSource(b.Source)
				if err != nil {
					return convertedChat{}, err
				}
				images = append(images, img)
			case "tool_use":
				if b.ID == "" {
					return convertedChat{}, errors.New("tool_use block missing required 'id' field")
				}
				if b.Name == "" {
					return convertedChat{}, errors.New("tool_use block missing required 'name' field")
				}
			case "tool_result":
				resultImages, err := toolResultImages(b.Content)
				if err != nil {
					return convertedChat{}, err
				}
				if len(resultImages) > 0 {
					msgs = append(msgs, message{Role: "tool", Images: resultImages})
				}
			}
		}
		if len(images) > 0 {
			msgs = append(msgs, message{Role: strings.ToLower(m.Role), Images: images})
		}
	}
	options := map[string]any{"num_predict": r.MaxTokens}
	// Tools: a custom tool named "web_search" next to the built-in one is dropped unconverted;
	// every other custom tool's input_schema must decode as api.ToolFunctionParameters.
	builtinSearch := false
	for _, t := range r.Tools {
		if strings.HasPrefix(t.Type, "web_search") {
			builtinSearch = true
		}
	}
	for _, t := range r.Tools {
		if strings.HasPrefix(t.Type, "web_search") || len(t.InputSchema) == 0 {
			continue
		}
		if builtinSearch && t.Name == "web_search" {
			continue
		}
		var params toolFunctionParameters
		if err := json.Unmarshal(t.InputSchema, &params); err != nil {
			return convertedChat{}, fmt.Errorf("invalid input_schema for tool %q: %w", t.Name, err)
		}
	}
	stream := r.Stream
	return convertedChat{Model: r.Model, Messages: msgs, Stream: &stream, Options: options}, nil
}

func resolveImageSource(s *imageSource) (imageData, error) {
	if s.Type != "base64" {
		return nil, fmt.Errorf("invalid image source type: %s. Only base64 images are supported.", s.Type)
	}
	img, err := base64.StdEncoding.DecodeString(s.Data)
	if err != nil {
		return nil, fmt.Errorf("invalid base64 image data: %w", err)
	}
	return img, nil
}

// toolResultImages is the image half of convertToolResultContent: only an array content has
// images; items that are not objects are skipped; an "image" item needs a "source" object.
func toolResultImages(content any) ([]imageData, error) {
	items, ok := content.([]any)
	if !ok {
		return nil, nil
	}
	var images []imageData
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok || m["type"] != "image" {
			continue
		}
		raw, ok := m["source"].(map[string]any)
		if !ok {
			return nil, errors.New("invalid tool_result image source")
		}
		var src imageSource
		src.Type, _ = raw["type"].(string)
		src.MediaType, _ = raw["media_type"].(string)
		src.Data, _ = raw["data"].(string)
		img, err := resolveImageSource(&src)
		if err != nil {
			return nil, err
		}
		images = append(images, img)
	}
	return images, nil
}
