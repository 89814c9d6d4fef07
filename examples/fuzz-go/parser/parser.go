// Package parser reads a tiny record format: a four-byte tag, a length byte
// and a body. It has a planted bug: a body that starts with "CFO!" after a
// "RECD" tag makes parseBody read the byte the length byte points at, past
// the body's end unless the body is long enough.
package parser

import "errors"

// ErrShort is returned for input too short to hold a header.
var ErrShort = errors.New("parser: short input")

// Header is a record's header.
type Header struct {
	Tag    string
	Length int
}

// ParseHeader reads the five-byte header.
func ParseHeader(data []byte) (Header, error) {
	if len(data) < 5 {
		return Header{}, ErrShort
	}
	return Header{Tag: string(data[:4]), Length: int(data[4])}, nil
}

// ParseRecord reads a header and its body.
func ParseRecord(data []byte) (Header, []byte, error) {
	h, err := ParseHeader(data)
	if err != nil {
		return h, nil, err
	}
	body := data[5:]
	if h.Tag == "RECD" {
		return h, parseBody(body, h.Length), nil
	}
	if len(body) > h.Length {
		body = body[:h.Length]
	}
	return h, body, nil
}

func parseBody(body []byte, length int) []byte {
	if len(body) >= 4 && body[0] == 'C' && body[1] == 'F' && body[2] == 'O' && body[3] == '!' {
		// The planted bug: trusts the length byte.
		end := int(body[4+length])
		return body[4 : 4+end%(length+1)]
	}
	if len(body) > length {
		return body[:length]
	}
	return body
}
