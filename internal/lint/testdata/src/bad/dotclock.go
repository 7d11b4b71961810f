package bad

import . "time"

// Ticks builds a ticker through a dot import.
func Ticks() *Ticker {
	return NewTicker(Second) // want time
}
