package main

// The storage engines --engine can pick besides native: importing them
// registers them with engine.Open.
import (
	_ "zabd/engine/badger"
	_ "zabd/engine/pebble"
)
