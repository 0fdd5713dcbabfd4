package zab

import (
	"testing"
	"time"
)

func TestSessionTrackerExpiry(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	st := NewSessionTracker([]byte("k"), 0, t0)
	a, b := st.NextID(), st.NextID()
	if a == b || a == 0 {
		t.Fatalf("ids not unique: %x %x", a, b)
	}
	st.Track(a, 2*time.Second, t0)
	st.Track(b, 4*time.Second, t0)
	if got := st.Expired(t0.Add(time.Second)); len(got) != 0 {
		t.Fatalf("expired too early: %v", got)
	}
	if !st.Touch(a, t0.Add(time.Second)) {
		t.Fatal("touch of live session failed")
	}
	// a now expires at t0+3s, b at t0+4s
	if got := st.Expired(t0.Add(2500 * time.Millisecond)); len(got) != 0 {
		t.Fatalf("touch did not extend: %v", got)
	}
	if got := st.Expired(t0.Add(3 * time.Second)); len(got) != 1 || got[0] != a {
		t.Fatalf("want [%x], got %x", a, got)
	}
	if st.Touch(a, t0.Add(3*time.Second)) {
		t.Fatal("touch of expired session succeeded")
	}
	if got := st.Expired(t0.Add(10 * time.Second)); len(got) != 1 || got[0] != b {
		t.Fatalf("want [%x], got %x", b, got)
	}
}

func TestSessionPasswords(t *testing.T) {
	st := NewSessionTracker([]byte("secret"), 0, time.Unix(0, 0))
	other := NewSessionTracker([]byte("other"), 0, time.Unix(0, 0))
	sid := st.NextID()
	pw := st.Password(sid)
	if len(pw) != SessionPasswordLen {
		t.Fatalf("password length %d", len(pw))
	}
	if !st.CheckPassword(sid, pw) {
		t.Fatal("own password rejected")
	}
	if st.CheckPassword(sid+1, pw) || other.CheckPassword(sid, pw) {
		t.Fatal("password accepted for another session or secret")
	}
}

func TestSessionIDsSkipRecovered(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	st := NewSessionTracker([]byte("k"), 0, t0)
	first := st.NextID()
	st.Track(first+5, time.Second, t0) // recovered from the log
	if got := st.NextID(); got <= first+5 {
		t.Fatalf("next id %x collides with recovered %x", got, first+5)
	}
}

// A session's owner is the member its writes come through: the first to
// write takes it when nobody had (a new leader's sessions), SetOwner moves
// it (a re-attach), and writes through any other member are refused.
func TestSessionOwner(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	st := NewSessionTracker([]byte("k"), 1, t0)
	sid := st.NextID()
	if !st.CheckOwner(sid, 2) {
		t.Fatal("an untracked session is refused (the request path answers it expired)")
	}
	st.Track(sid, time.Second, t0)
	if !st.CheckOwner(sid, 2) || !st.CheckOwner(sid, 2) {
		t.Fatal("the first member to write does not own the session")
	}
	if st.CheckOwner(sid, 3) {
		t.Fatal("another member's write passes")
	}
	if !st.SetOwner(sid, 3) || !st.CheckOwner(sid, 3) || st.CheckOwner(sid, 2) {
		t.Fatal("the session did not move to member 3")
	}
	st.Remove(sid)
	if st.SetOwner(sid, 2) {
		t.Fatal("SetOwner of a removed session")
	}
}
