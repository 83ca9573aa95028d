package main

import (
	"encoding/json"
	"errors"
	"fmt"
)

// The OpenAI Responses API request (openai/responses.go) and its conversion to a chat request.
// Its input is a union decoded by hand: a string, or an array of items told apart by "type"
// (or by "role" when "type" is missing), each item's content a string or an array of parts told
// apart by "type". Those "type" fields are struct fields, so they match case-insensitively
// ({"Type":"input_image"} is an image), unlike the OpenAI chat parts, which are plain maps.

type responsesTool struct {
	Type        string          `json:"type"`
	Name        string          `json:"name"`
	Description *string         `json:"description"`
	Strict      *bool           `json:"strict"`
	Parameters  map[string]any  `json:"parameters"`
	Tools       []responsesTool `json:"tools,omitempty"`
}

type responsesRequest struct {
	Model           string          `json:"model"`
	Background      bool            `json:"background"`
	Conversation    json.RawMessage `json:"conversation"`
	Include         []string        `json:"include"`
	Input           responsesInput  `json:"input"`
	Instructions    string          `json:"instructions,omitempty"`
	MaxOutputTokens *int            `json:"max_output_tokens,omitempty"`
	Reasoning       struct {
		Effort          string `json:"effort,omitempty"`
		GenerateSummary string `json:"generate_summary,omitempty"`
		Summary         string `json:"summary,omitempty"`
	} `json:"reasoning"`
	Temperature *float64 `json:"temperature"`
	Text        *struct {
		Format *struct {
			Type   string          `json:"type"`
			Name   string          `json:"name,omitempty"`
			Schema json.RawMessage `json:"schema,omitempty"`
			Strict *bool           `json:"strict,omitempty"`
		} `json:"format,omitempty"`
	} `json:"text,omitempty"`
	TopP       *float64        `json:"top_p"`
	Truncation *string         `json:"truncation"`
	Tools      []responsesTool `json:"tools,omitempty"`
	Stream     *bool           `json:"stream,omitempty"`
}

// responsesInput is openai.ResponsesInput: a string (Text) or an array of items (Items).
type responsesInput struct {
	Text  string
	Items []responsesItem
}

// responsesItem keeps what the conversion needs of each kind of input item.
type responsesItem struct {
	kind    string // "message", "function_call", "function_call_output", "reasoning", "web_search_call"
	role    string
	parts   []responsesPart // message content, or function_call_output's array output
	callID  string
	args    string // function_call arguments
	thought string // reasoning encrypted_content
}

type responsesPart struct {
	kind     string // input_text, input_image, output_text, input_file
	imageURL string
}

func (r *responsesInput) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		r.Text = s
		return nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(data, &raws); err != nil {
		return fmt.Errorf("input must be a string or array: %w", err)
	}
	r.Items = make([]responsesItem, 0, len(raws))
	for i, raw := range raws {
		item, err := decodeResponsesItem(raw)
		if err != nil {
			return fmt.Errorf("input[%d]: %w", i, err)
		}
		r.Items = append(r.Items, item)
	}
	return nil
}

func decodeResponsesItem(data []byte) (responsesItem, error) {
	var head struct {
		Type string `json:"type"`
		Role string `json:"role"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return responsesItem{}, err
	}
	kind := head.Type
	if kind == "" && head.Role != "" {
		kind = "message" // the {"role","content"} shorthand
	}
	switch kind {
	case "message":
		var m struct {
			Type    string          `json:"type"`
			Role    string          `json:"role"`
			Content json.RawMessage `json:"content"`
		}
		if err := json.Unmarshal(data, &m); err != nil {
			return responsesItem{}, err
		}
		parts, err := decodeResponsesContent(m.Content, "content")
		if err != nil {
			return responsesItem{}, err
		}
		return responsesItem{kind: kind, role: m.Role, parts: parts}, nil
	case "function_call":
		var fc struct {
			ID        string `json:"id,omitempty"`
			Type      string `json:"type"`
			CallID    string `json:"call_id"`
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		}
		if err := json.Unmarshal(data, &fc); err != nil {
			return responsesItem{}, err
		}
		return responsesItem{kind: kind, callID: fc.CallID, args: fc.Arguments}, nil
	case "function_call_output":
		var out struct {
			Type   string          `json:"type"`
			CallID string          `json:"call_id"`
			Output json.RawMessage `json:"output"`
		}
		if err := json.Unmarshal(data, &out); err != nil {
			return responsesItem{}, err
		}
		parts, err := decodeResponsesContent(out.Output, "output")
		if err != nil {
			return responsesItem{}, err
		}
		return responsesItem{kind: kind, callID: out.CallID, parts: parts}, nil
	case "reasoning":
		var rs struct {
			ID      string `json:"id,omitempty"`
			Type    string `json:"type"`
			Summary []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"summary,omitempty"`
			EncryptedContent string `json:"encrypted_content,omitempty"`
		}
		if err := json.Unmarshal(data, &rs); err != nil {
			return responsesItem{}, err
		}
		return responsesItem{kind: kind, thought: rs.EncryptedContent}, nil
	case "web_search_call":
		var call struct {
			ID     string `json:"id"`
			Type   string `json:"type"`
			Status string `json:"status"`
			Action *struct {
				Type  string `json:"type"`
				Query string `json:"query"`
			} `json:"action,omitempty"`
		}
		if err := json.Unmarshal(data, &call); err != nil {
			return responsesItem{}, err
		}
		return responsesItem{kind: kind}, nil
	case "":
		return responsesItem{}, errors.New("input item missing required 'type' field")
	}
	return responsesItem{}, fmt.Errorf("unknown input item type: %q", kind)
}

// decodeResponsesContent reads a message's content or a function_call_output's output: absent
// means nothing, a JSON string is one text part, otherwise it must be an array of typed parts.
// (A string output of function_call_output is its text and has no parts.)
func decodeResponsesContent(raw json.RawMessage, field string) ([]responsesPart, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if field == "output" {
			return nil, nil
		}
		return []responsesPart{{kind: "input_text"}}, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(raw, &raws); err != nil {
		return nil, fmt.Errorf("%s must be a string or array: %w", field, err)
	}
	parts := make([]responsesPart, 0, len(raws))
	for i, r := range raws {
		p, err := decodeResponsesPart(r)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %w", field, i, err)
		}
		parts = append(parts, p)
	}
	return parts, nil
}

func decodeResponsesPart(data []byte) (responsesPart, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return responsesPart{}, err
	}
	switch head.Type {
	case "input_text", "output_text":
		var p struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(data, &p); err != nil {
			return responsesPart{}, err
		}
		return responsesPart{kind: head.Type}, nil
	case "input_image":
		var p struct {
			Type     string `json:"type"`
			Detail   string `json:"detail"`
			FileID   string `json:"file_id,omitempty"`
			ImageURL string `json:"image_url,omitempty"`
		}
		if err := json.Unmarshal(data, &p); err != nil {
			return responsesPart{}, err
		}
		return responsesPart{kind: head.Type, imageURL: p.ImageURL}, nil
	case "input_file":
		var p struct {
			Type     string `json:"type"`
			FileData string `json:"file_data,omitempty"`
			FileID   string `json:"file_id,omitempty"`
			FileURL  string `json:"file_url,omitempty"`
			Filename string `json:"filename,omitempty"`
		}
		if err := json.Unmarshal(data, &p); err != nil {
			return responsesPart{}, err
		}
		return responsesPart{kind: head.Type}, nil
	}
	return responsesPart{}, fmt.Errorf("unknown content type: %s", head.Type)
}

func readResponses(body []byte) Reading {
	return withPassthrough("/v1/responses", body, readResponsesLocally(body))
}

func readResponsesLocally(body []byte) Reading {
	var req responsesRequest
	if err := bindJSON(body, &req); err != nil {
		return refused("decode", err.Error())
	}
	converted, err := fromResponses(req)
	if err != nil {
		return refused("convert", err.Error())
	}
	native := readConverted(converted, readChat)
	if native["ok"] != true {
		return native
	}
	// stream is reported as Go holds it (*bool); ResponsesMiddleware streams only when it is true.
	return Reading{"ok": true, "models": map[string]string{"model": req.Model}, "stream": nullableBool(req.Stream),
		"outputCap": native["outputCap"], "images": native["images"]}
}

// fromResponses is openai.FromResponsesRequest as far as images, num_predict and its errors go.
// Images come from input_image parts with a non-empty image_url (decoded like the chat API's
// data URIs), in messages and in function_call_output arrays; an input_file part is refused.
// Assistant messages may be merged into the previous message, which moves images between
// messages but never drops one, so the count is the sum.
func fromResponses(r responsesRequest) (convertedChat, error) {
	var msgs []message
	if r.Instructions != "" {
		msgs = append(msgs, message{Role: "system", Content: r.Instructions})
	}
	if r.Input.Text != "" {
		msgs = append(msgs, message{Role: "user", Content: r.Input.Text})
	}
	for _, item := range r.Input.Items {
		switch item.kind {
		case "message", "function_call_output":
			images, err := responsesImages(item.parts)
			if err != nil {
				return convertedChat{}, err
			}
			role := item.role
			if item.kind == "function_call_output" {
				role = "tool"
			}
			msgs = append(msgs, message{Role: role, Images: images})
		case "function_call":
			if item.args != "" {
				var args orderedObject
				if err := json.Unmarshal([]byte(item.args), &args); err != nil {
					return convertedChat{}, fmt.Errorf("failed to parse function call arguments: %w", err)
				}
			}
			msgs = append(msgs, message{Role: "assistant"})
		}
	}
	options := map[string]any{}
	if r.MaxOutputTokens != nil {
		options["num_predict"] = *r.MaxOutputTokens
	}
	think, err := thinkFromEffort(r.Reasoning.Effort)
	if err != nil {
		return convertedChat{}, err
	}
	// Tools: convertTool re-decodes each function tool's parameters as api.ToolFunctionParameters.
	if err := checkResponsesTools(r.Tools, true); err != nil {
		return convertedChat{}, err
	}
	stream := r.Stream != nil && *r.Stream
	return convertedChat{Model: r.Model, Messages: msgs, Stream: &stream, Options: options, Think: think}, nil
}

func responsesImages(parts []responsesPart) ([]imageData, error) {
	var images []imageData
	for _, p := range parts {
		switch p.kind {
		case "input_image":
			if p.imageURL == "" {
				continue // a file_id image is skipped, not refused
			}
			img, err := decodeImageURL(p.imageURL)
			if err != nil {
				return nil, err
			}
			images = append(images, img)
		case "input_file":
			return nil, errors.New("file inputs are not currently supported")
		}
	}
	return images, nil
}

// checkResponsesTools follows the tool loop of FromResponsesRequest: a top-level web_search tool
// is replaced by Ollama's own, namespaces are expanded (their members converted whatever their
// type), and every other tool's parameters map is encoded and decoded into
// api.ToolFunctionParameters, which can fail (e.g. "required" that is not a string array).
func checkResponsesTools(tools []responsesTool, topLevel bool) error {
	for _, t := range tools {
		if topLevel && t.Type == "web_search" {
			continue
		}
		if t.Type == "namespace" {
			if err := checkResponsesTools(t.Tools, false); err != nil {
				return err
			}
			continue
		}
		if t.Parameters == nil {
			continue
		}
		b, err := json.Marshal(t.Parameters)
		if err != nil {
			return fmt.Errorf("failed to marshal tool parameters: %w", err)
		}
		var params toolFunctionParameters
		if err := json.Unmarshal(b, &params); err != nil {
			return fmt.Errorf("failed to unmarshal tool parameters: %w", err)
		}
	}
	return nil
}
