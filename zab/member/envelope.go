package member

import (
	"encoding/json"
	"fmt"

	"zabd/tree"
)

// What a learner forwards to its leader (peer.Forward's data).
const (
	kindWrite = 1 // a client's write, createSession or closeSession
	kindTouch = 2 // sessions the learner's clients kept alive since the last
)

// envelope is a forwarded request. JSON keeps nil and empty byte slices
// apart (znode data distinguishes them), which gob does not.
type envelope struct {
	Kind    uint8        `json:"k"`
	Session int64        `json:"s,omitempty"`
	Req     tree.Request `json:"r,omitempty"`
	Touches []int64      `json:"t,omitempty"`
}

func encodeEnvelope(e envelope) []byte {
	b, err := json.Marshal(e)
	if err != nil {
		panic(fmt.Sprintf("member: encoding a forwarded request: %v", err)) // plain data: cannot fail
	}
	return b
}

func decodeEnvelope(b []byte) (envelope, error) {
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("member: a forwarded request that does not decode: %w", err)
	}
	if e.Kind != kindWrite && e.Kind != kindTouch {
		return e, fmt.Errorf("member: a forwarded request of unknown kind %d", e.Kind)
	}
	return e, nil
}
