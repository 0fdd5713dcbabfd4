package bench

import (
	"context"
	"time"
)

// Clock is the generator's time source. The real one is package time;
// tests drive the pacing loop with a fake one.
type Clock interface {
	Now() time.Time
	// SleepUntil returns at t or when ctx is done, with ctx.Err() then.
	SleepUntil(ctx context.Context, t time.Time) error
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) SleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
