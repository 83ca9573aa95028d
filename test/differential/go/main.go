// Command goreader reads request bodies the way Ollama does, using Go's own standard library, so
// that Gatehouse's reading of the same bytes can be checked against Go itself (issue #23).
//
// Protocol: stdin carries frames, stdout answers one JSON line per frame, in order. A frame is
// three fields, each a uint32 big-endian byte length followed by that many bytes: the route id
// (Gatehouse's route table), the Content-Type, and the body. The answer is a Reading (reading.go).
//
// Standard library only: this runs in CI with Debian's golang-go and no module downloads.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
)

func main() {
	in := bufio.NewReaderSize(os.Stdin, 1<<16)
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for {
		f, err := readFrame(in)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "goreader:", err)
			os.Exit(2)
		}
		if err := enc.Encode(readSafely(f)); err != nil {
			fmt.Fprintln(os.Stderr, "goreader:", err)
			os.Exit(2)
		}
		// Answer as soon as no further frame is already waiting, so a pipelining caller is never
		// stalled on a half-full buffer, and a burst of frames is written in large chunks.
		if in.Buffered() == 0 {
			if err := out.Flush(); err != nil {
				os.Exit(2)
			}
		}
	}
	_ = out.Flush()
}

// readSafely turns a panic in a reader into a visible answer instead of killing the process, so
// one odd body cannot desynchronise the answers of every frame after it.
func readSafely(f frame) (r Reading) {
	defer func() {
		if p := recover(); p != nil {
			r = refused("panic", fmt.Sprintf("goreader panicked: %v", p))
		}
	}()
	return read(f)
}

// read dispatches on the route id. Route ids are Gatehouse's (src/routes/table.ts); the handler
// each one reaches in Ollama is named beside it.
func read(f frame) Reading {
	switch f.route {
	case "_meta":
		// Not a route: what this reader runs on, because int64(float64) conversions and the
		// standard library's parsers depend on both.
		return Reading{"ok": true, "goVersion": runtime.Version(), "goarch": runtime.GOARCH}
	case "show": // ShowHandler
		return readShow(f.body)
	case "generate": // GenerateHandler
		return readGenerate(f.body)
	case "chat": // ChatHandler
		return readChat(f.body)
	case "embed": // EmbedHandler
		return readEmbed(f.body)
	case "embeddings": // EmbeddingsHandler
		return readEmbeddings(f.body)
	case "pull": // PullHandler
		return readPull(f.body)
	case "push": // PushHandler
		return readPush(f.body)
	case "create": // CreateHandler (server/create.go)
		return readCreate(f.body)
	case "copy": // CopyHandler
		return readCopy(f.body)
	case "delete": // DeleteHandler
		return readDelete(f.body)
	case "web_search", "web_fetch": // webExperimentalProxyHandler
		return readWebProxy(f.body)
	case "openai.chat": // cloudPassthroughMiddleware → ChatMiddleware → ChatHandler
		return readOpenAIChat(f.body)
	case "openai.completions": // cloudPassthroughMiddleware → CompletionsMiddleware → GenerateHandler
		return readOpenAICompletions(f.body)
	case "openai.embeddings": // cloudPassthroughMiddleware → EmbeddingsMiddleware → EmbedHandler
		return readOpenAIEmbeddings(f.body)
	case "openai.responses": // cloudPassthroughMiddleware → ResponsesMiddleware → ChatHandler
		return readResponses(f.body)
	case "anthropic.messages": // cloudPassthroughMiddleware → AnthropicMessagesMiddleware → ChatHandler
		return readAnthropic(f.body)
	case "openai.transcriptions": // TranscriptionMiddleware → ChatHandler
		return readTranscription(f.contentType, f.body)
	}
	return refused("frame", fmt.Sprintf("unknown route id %q", f.route))
}
