package jute

// ConnectRequest is the first frame a client sends (proto.ConnectRequest).
// It has no RequestHeader.
type ConnectRequest struct {
	ProtocolVersion int32
	LastZxidSeen    int64
	TimeOut         int32 // requested session timeout, milliseconds
	SessionID       int64 // 0 asks for a new session
	Passwd          []byte
	ReadOnly        bool // client accepts a read-only server
	// Legacy is true when the trailing readOnly byte is absent, as from
	// ZooKeeper ≤ 3.3 clients and from go-zookeeper. ZooKeeper remembers
	// this per connection and answers with a ConnectResponse that also
	// lacks the byte; a server must do the same (copy Legacy into the
	// response). AppendConnectRequest omits the byte when Legacy is set.
	Legacy bool
}

// ConnectResponse is the server's answer to a ConnectRequest
// (proto.ConnectResponse). SessionID 0 (with TimeOut 0 and a 16-byte zero
// Passwd in ZooKeeper) tells the client its session has expired.
type ConnectResponse struct {
	ProtocolVersion int32
	TimeOut         int32 // negotiated session timeout, milliseconds
	SessionID       int64
	Passwd          []byte
	ReadOnly        bool // the server is in read-only mode
	// Legacy omits the trailing readOnly byte; set it when the request was
	// Legacy. DecodeConnectResponse sets it when the byte is absent.
	Legacy bool
}

// DecodeConnectRequest decodes a connect request frame body (without the
// length prefix). Bytes after the readOnly byte are ignored, as ZooKeeper
// ignores them.
func DecodeConnectRequest(b []byte) (ConnectRequest, error) {
	d := Decoder{b: b, rec: "ConnectRequest"}
	var r ConnectRequest
	r.ProtocolVersion = d.Int()
	r.LastZxidSeen = d.Long()
	r.TimeOut = d.Int()
	r.SessionID = d.Long()
	r.Passwd = d.Buffer()
	if d.err != nil {
		return ConnectRequest{}, d.err
	}
	if d.Remaining() == 0 {
		r.Legacy = true
	} else {
		r.ReadOnly = d.Bool()
	}
	return r, nil
}

// AppendConnectRequest appends a connect request body (no length prefix).
func AppendConnectRequest(dst []byte, r ConnectRequest) []byte {
	dst = AppendInt(dst, r.ProtocolVersion)
	dst = AppendLong(dst, r.LastZxidSeen)
	dst = AppendInt(dst, r.TimeOut)
	dst = AppendLong(dst, r.SessionID)
	dst = AppendBuffer(dst, r.Passwd)
	if !r.Legacy {
		dst = AppendBool(dst, r.ReadOnly)
	}
	return dst
}

// AppendConnectResponse appends a connect response body (no length prefix).
func AppendConnectResponse(dst []byte, r ConnectResponse) []byte {
	dst = AppendInt(dst, r.ProtocolVersion)
	dst = AppendInt(dst, r.TimeOut)
	dst = AppendLong(dst, r.SessionID)
	dst = AppendBuffer(dst, r.Passwd)
	if !r.Legacy {
		dst = AppendBool(dst, r.ReadOnly)
	}
	return dst
}

// DecodeConnectResponse decodes a connect response body (no length prefix).
func DecodeConnectResponse(b []byte) (ConnectResponse, error) {
	d := Decoder{b: b, rec: "ConnectResponse"}
	var r ConnectResponse
	r.ProtocolVersion = d.Int()
	r.TimeOut = d.Int()
	r.SessionID = d.Long()
	r.Passwd = d.Buffer()
	if d.err != nil {
		return ConnectResponse{}, d.err
	}
	if d.Remaining() == 0 {
		r.Legacy = true
	} else {
		r.ReadOnly = d.Bool()
	}
	return r, nil
}
