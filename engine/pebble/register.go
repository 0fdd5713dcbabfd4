package pebble

import "zabd/engine"

func init() {
	engine.Register("pebble", func(dir string, o engine.Options) (engine.Full, error) {
		po := Options{GroupCommit: o.GroupCommit, Logger: o.Logger}
		if o.Small {
			po.MemTableBytes, po.CacheBytes = 256<<10, 1<<20
		}
		e, err := Open(dir, po)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return e, nil
	})
}
