package parser

import "strconv"

// Value is one parsed value of a key=value list.
type Value struct {
	Kind string // "int", "bool", "string" or "word"
	Int  int
	Text string
}

// ParseKV reads "key=value;key=value" pairs. Values are integers, true or
// false, "quoted strings" with \" escapes, or bare words.
func ParseKV(data []byte) (map[string]Value, error) {
	out := map[string]Value{}
	for len(data) > 0 {
		eq := indexByte(data, '=')
		if eq <= 0 {
			return out, errSyntax
		}
		key := string(data[:eq])
		data = data[eq+1:]
		v, rest, err := parseValue(data)
		if err != nil {
			return out, err
		}
		out[key] = v
		data = rest
		if len(data) > 0 {
			if data[0] != ';' {
				return out, errSyntax
			}
			data = data[1:]
		}
	}
	return out, nil
}

type syntaxError struct{}

func (syntaxError) Error() string { return "parser: syntax error" }

var errSyntax error = syntaxError{}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func parseValue(data []byte) (Value, []byte, error) {
	end := indexByte(data, ';')
	if len(data) > 0 && data[0] == '"' {
		var text []byte
		for i := 1; i < len(data); i++ {
			switch data[i] {
			case '\\':
				if i+1 < len(data) {
					text = append(text, data[i+1])
					i++
				}
			case '"':
				return Value{Kind: "string", Text: string(text)}, data[i+1:], nil
			default:
				text = append(text, data[i])
			}
		}
		return Value{}, nil, errSyntax
	}
	if end < 0 {
		end = len(data)
	}
	word := string(data[:end])
	switch word {
	case "true", "false":
		return Value{Kind: "bool", Text: word}, data[end:], nil
	}
	if n, err := strconv.Atoi(word); err == nil {
		return Value{Kind: "int", Int: n}, data[end:], nil
	}
	return Value{Kind: "word", Text: word}, data[end:], nil
}
