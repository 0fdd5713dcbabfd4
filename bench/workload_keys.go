package bench

import (
	"context"
	"fmt"
	"strconv"

	"github.com/go-zookeeper/zk"
)

// Create creates one persistent znode per request, with ValueBytes of
// data: sequential children of the run's directory (the default, the
// ZooKeeper write path with the parent's cversion bump), or keyed ones
// named by slot number.
type Create struct {
	Keyed bool
}

func (Create) Name() string { return "create" }
func (c Create) Params() string {
	if c.Keyed {
		return "names=keyed"
	}
	return "names=sequential"
}
func (Create) plan(cfg Config) (int, int)        { return perSession{}.plan(cfg) }
func (Create) maxSlots(Config) int64             { return 0 }
func (Create) setup(context.Context, *env) error { return nil }
func (c Create) worker(e *env, conn *zk.Conn, _ int) opFunc {
	if c.Keyed {
		return func(_ context.Context, slot int64) error {
			_, err := conn.Create(e.dir+"/c"+strconv.FormatInt(slot, 10), e.value, 0, worldACL)
			return err
		}
	}
	prefix := e.dir + "/seq-"
	return func(context.Context, int64) error {
		_, err := conn.Create(prefix, e.value, zk.FlagSequence, worldACL)
		return err
	}
}

// cleanup deletes by name: sequential names are the parent's cversion at
// each create, which only this run's creates (at most slots of them) bump.
func (c Create) cleanup(ctx context.Context, e *env, slots int64) error {
	name := func(i int64) string { return fmt.Sprintf("%s/seq-%010d", e.dir, i) }
	if c.Keyed {
		name = func(i int64) string { return e.dir + "/c" + strconv.FormatInt(i, 10) }
	}
	return deleteAll(ctx, e, slots, name)
}

// Set overwrites a random one of KeySpace keys (unconditional version).
type Set struct{ keyed }

func (Set) Name() string   { return "set" }
func (Set) Params() string { return "" }
func (Set) worker(e *env, conn *zk.Conn, _ int) opFunc {
	return func(_ context.Context, slot int64) error {
		_, err := conn.Set(e.key(e.pick(slot, 0)), e.value, -1)
		return err
	}
}

// Get reads a random one of KeySpace keys.
type Get struct{ keyed }

func (Get) Name() string   { return "get" }
func (Get) Params() string { return "" }
func (Get) worker(e *env, conn *zk.Conn, _ int) opFunc {
	return func(_ context.Context, slot int64) error {
		_, _, err := conn.Get(e.key(e.pick(slot, 0)))
		return err
	}
}

// Exists checks a random one of KeySpace keys.
type Exists struct{ keyed }

func (Exists) Name() string   { return "exists" }
func (Exists) Params() string { return "" }
func (Exists) worker(e *env, conn *zk.Conn, _ int) opFunc {
	return func(_ context.Context, slot int64) error {
		ok, _, err := conn.Exists(e.key(e.pick(slot, 0)))
		if err == nil && !ok {
			return zk.ErrNoNode
		}
		return err
	}
}

// Delete deletes the KeySpace keys created at setup, one per request, in
// slot order: a run has at most KeySpace requests (warm-up included) and
// ends early, with a note, when they run out.
type Delete struct{ keyed }

func (Delete) Name() string              { return "delete" }
func (Delete) Params() string            { return "" }
func (Delete) maxSlots(cfg Config) int64 { return int64(cfg.KeySpace) }
func (Delete) worker(e *env, conn *zk.Conn, _ int) opFunc {
	return func(_ context.Context, slot int64) error {
		return conn.Delete(e.key(slot), -1)
	}
}

// Mixed reads (get) with probability ReadRatio and otherwise writes (set)
// a random one of KeySpace keys; the choice is a function of (seed, slot).
type Mixed struct {
	keyed
	ReadRatio float64
}

func (Mixed) Name() string     { return "mixed" }
func (m Mixed) Params() string { return fmt.Sprintf("read_ratio=%g", m.ReadRatio) }
func (m Mixed) worker(e *env, conn *zk.Conn, _ int) opFunc {
	return func(_ context.Context, slot int64) error {
		key := e.key(e.pick(slot, 0))
		if e.unit(slot, 1) < m.ReadRatio {
			_, _, err := conn.Get(key)
			return err
		}
		_, err := conn.Set(key, e.value, -1)
		return err
	}
}

// Multi sends one transaction of OpsPerTxn set operations on random keys
// per request; a request is one transaction in the figures.
type Multi struct {
	keyed
	OpsPerTxn int
}

func (Multi) Name() string     { return "multi" }
func (m Multi) Params() string { return fmt.Sprintf("ops_per_txn=%d", m.OpsPerTxn) }
func (m Multi) worker(e *env, conn *zk.Conn, _ int) opFunc {
	k := max(m.OpsPerTxn, 1)
	return func(_ context.Context, slot int64) error {
		ops := make([]any, k)
		for j := range ops {
			ops[j] = &zk.SetDataRequest{Path: e.key(e.pick(slot, uint64(j))), Data: e.value, Version: -1}
		}
		res, err := conn.Multi(ops...)
		if err != nil {
			return err
		}
		for _, r := range res {
			if r.Error != nil {
				return r.Error
			}
		}
		return nil
	}
}
