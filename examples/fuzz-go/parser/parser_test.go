package parser

import "testing"

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte("HEAD\x01x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHeader(data)
		if err == nil && len(h.Tag) != 4 {
			t.Fatalf("tag of %d bytes", len(h.Tag))
		}
	})
}

func FuzzParseRecord(f *testing.F) {
	f.Add([]byte("RECD\x02ab"))
	f.Add([]byte("NOTE\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _, _ = ParseRecord(data)
	})
}

func FuzzParseKV(f *testing.F) {
	f.Add([]byte("a=1;b=true;c=\"x\\\"y\";d=word"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kv, err := ParseKV(data)
		if err == nil && len(kv) > len(data) {
			t.Fatalf("%d keys from %d bytes", len(kv), len(data))
		}
	})
}
