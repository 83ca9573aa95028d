package main

import (
	"encoding/binary"
	"fmt"
	"io"
)

// A frame is one request to read: three length-prefixed fields (uint32 big-endian length, bytes).
type frame struct {
	route       string
	contentType string
	body        []byte
}

// maxField bounds one field so that a corrupt length cannot make the reader allocate gigabytes.
const maxField = 64 << 20

func readFrame(r io.Reader) (frame, error) {
	route, err := readField(r)
	if err != nil {
		return frame{}, err // io.EOF here is the clean end of input
	}
	ct, err := readField(r)
	if err != nil {
		return frame{}, unexpected(err)
	}
	body, err := readField(r)
	if err != nil {
		return frame{}, unexpected(err)
	}
	return frame{route: string(route), contentType: string(ct), body: body}, nil
}

func readField(r io.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > maxField {
		return nil, fmt.Errorf("frame field of %d bytes is larger than %d", size, maxField)
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, unexpected(err)
	}
	return b, nil
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
