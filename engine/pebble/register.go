package pebble

import "zabd/engine"

func init() {
	engine.Register("pebble", func(dir string, o engine.Options) (engine.Engine, error) {
		po := Options{GroupCommit: o.GroupCommit, Logger: o.Logger}
		if o.Small {
			po.MemTableBytes, po.CacheBytes = 256<<10, 1<<20
		}
		return Open(dir, po)
	})
}
