package badger

import "zabd/engine"

func init() {
	engine.Register("badger", func(dir string, o engine.Options) (engine.Full, error) {
		bo := Options{GroupCommit: o.GroupCommit, Logger: o.Logger}
		if o.Small {
			bo.MemTableBytes = 1 << 20
		}
		e, err := Open(dir, bo)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return e, nil
	})
}
