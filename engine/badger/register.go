package badger

import "zabd/engine"

func init() {
	engine.Register("badger", func(dir string, o engine.Options) (engine.Engine, error) {
		bo := Options{GroupCommit: o.GroupCommit, Logger: o.Logger}
		if o.Small {
			bo.MemTableBytes = 1 << 20
		}
		return Open(dir, bo)
	})
}
