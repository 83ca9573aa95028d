package main

import "encoding/json"

// Structs shaped like Ollama's request types in api/types.go: the same JSON tags and Go types,
// so that encoding/json accepts, refuses and reads a body exactly as it does for Ollama. Fields
// whose values this reader does not report are still declared, because their types decide
// whether a body decodes at all (a string where Go wants an int is a 400).

// imageData is api.ImageData: a []byte, so a JSON string is standard base64 (padded; \r and \n
// inside are skipped by the decoder), an array of small numbers is decoded byte by byte, and
// null is a nil slice that still counts as an entry.
type imageData []byte

type generateRequest struct {
	Model           string          `json:"model"`
	Prompt          string          `json:"prompt"`
	Suffix          string          `json:"suffix"`
	System          string          `json:"system"`
	Template        string          `json:"template"`
	Context         []int           `json:"context,omitempty"`
	Stream          *bool           `json:"stream,omitempty"`
	Raw             bool            `json:"raw,omitempty"`
	Format          json.RawMessage `json:"format,omitempty"`
	KeepAlive       *duration       `json:"keep_alive,omitempty"`
	Images          []imageData     `json:"images,omitempty"`
	Options         map[string]any  `json:"options"`
	Think           *thinkValue     `json:"think,omitempty"`
	Truncate        *bool           `json:"truncate,omitempty"`
	Shift           *bool           `json:"shift,omitempty"`
	DebugRenderOnly bool            `json:"_debug_render_only,omitempty"`
	Logprobs        bool            `json:"logprobs,omitempty"`
	TopLogprobs     int             `json:"top_logprobs,omitempty"`
}

type chatRequest struct {
	Model           string          `json:"model"`
	Messages        []message       `json:"messages"`
	Stream          *bool           `json:"stream,omitempty"`
	Format          json.RawMessage `json:"format,omitempty"`
	KeepAlive       *duration       `json:"keep_alive,omitempty"`
	Tools           []tool          `json:"tools,omitempty"`
	Options         map[string]any  `json:"options"`
	Think           *thinkValue     `json:"think,omitempty"`
	Truncate        *bool           `json:"truncate,omitempty"`
	Shift           *bool           `json:"shift,omitempty"`
	DebugRenderOnly bool            `json:"_debug_render_only,omitempty"`
	Logprobs        bool            `json:"logprobs,omitempty"`
	TopLogprobs     int             `json:"top_logprobs,omitempty"`
}

// message is api.Message. Ollama gives it an UnmarshalJSON that decodes into an alias type and
// lowercases the role; that is mirrored in values.go because it also changes how errors surface
// (a type error inside a message ends decoding at once instead of being collected).
type message struct {
	Role       string      `json:"role"`
	Content    string      `json:"content"`
	Thinking   string      `json:"thinking,omitempty"`
	Images     []imageData `json:"images,omitempty"`
	ToolCalls  []toolCall  `json:"tool_calls,omitempty"`
	ToolName   string      `json:"tool_name,omitempty"`
	ToolCallID string      `json:"tool_call_id,omitempty"`
}

type toolCall struct {
	ID       string           `json:"id,omitempty"`
	Function toolCallFunction `json:"function"`
}

type toolCallFunction struct {
	Index     int           `json:"index"`
	Name      string        `json:"name"`
	Arguments orderedObject `json:"arguments"`
}

type tool struct {
	Type     string       `json:"type"`
	Items    any          `json:"items,omitempty"`
	Function toolFunction `json:"function"`
}

type toolFunction struct {
	Name        string                 `json:"name"`
	Description string                 `json:"description,omitempty"`
	Parameters  toolFunctionParameters `json:"parameters"`
}

type toolFunctionParameters struct {
	Type       string          `json:"type"`
	Defs       any             `json:"$defs,omitempty"`
	Items      any             `json:"items,omitempty"`
	Required   []string        `json:"required,omitempty"`
	Properties *toolProperties `json:"properties"`
}

type toolProperty struct {
	AnyOf       []toolProperty  `json:"anyOf,omitempty"`
	Type        propertyType    `json:"type,omitempty"`
	Items       any             `json:"items,omitempty"`
	Description string          `json:"description,omitempty"`
	Enum        []any           `json:"enum,omitempty"`
	Properties  *toolProperties `json:"properties,omitempty"`
	Required    []string        `json:"required,omitempty"`
}

type embedRequest struct {
	Model      string         `json:"model"`
	Input      any            `json:"input"`
	KeepAlive  *duration      `json:"keep_alive,omitempty"`
	Truncate   *bool          `json:"truncate,omitempty"`
	Dimensions int            `json:"dimensions,omitempty"`
	Options    map[string]any `json:"options"`
}

type embeddingRequest struct {
	Model     string         `json:"model"`
	Prompt    string         `json:"prompt"`
	KeepAlive *duration      `json:"keep_alive,omitempty"`
	Options   map[string]any `json:"options"`
}

type createRequest struct {
	Model         string            `json:"model"`
	Stream        *bool             `json:"stream,omitempty"`
	Quantize      string            `json:"quantize,omitempty"`
	DraftQuantize string            `json:"draft_quantize,omitempty"`
	From          string            `json:"from,omitempty"`
	RemoteHost    string            `json:"remote_host,omitempty"`
	Files         map[string]string `json:"files,omitempty"`
	DraftFiles    map[string]string `json:"draft_files,omitempty"`
	Adapters      map[string]string `json:"adapters,omitempty"`
	Template      string            `json:"template,omitempty"`
	License       any               `json:"license,omitempty"`
	System        string            `json:"system,omitempty"`
	Parameters    map[string]any    `json:"parameters,omitempty"`
	Messages      []message         `json:"messages,omitempty"`
	Renderer      string            `json:"renderer,omitempty"`
	Parser        string            `json:"parser,omitempty"`
	Requires      string            `json:"requires,omitempty"`
	Info          map[string]any    `json:"info,omitempty"`
	Name          string            `json:"name"`
	Quantization  string            `json:"quantization,omitempty"`
}

type deleteRequest struct {
	Model string `json:"model"`
	Name  string `json:"name"`
}

type showRequest struct {
	Model    string         `json:"model"`
	System   string         `json:"system"`
	Template string         `json:"template"`
	Verbose  bool           `json:"verbose"`
	Options  map[string]any `json:"options"`
	Name     string         `json:"name"`
}

type copyRequest struct {
	Source      string `json:"source"`
	Destination string `json:"destination"`
}

// pullRequest and pushRequest are api.PullRequest/api.PushRequest: the same fields.
type pullRequest struct {
	Model    string `json:"model"`
	Insecure bool   `json:"insecure,omitempty"`
	Username string `json:"username"`
	Password string `json:"password"`
	Stream   *bool  `json:"stream,omitempty"`
	Name     string `json:"name"`
}
