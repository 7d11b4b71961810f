package wordcount

import (
	"testing"

	"github.com/onceproof/onceproof/onceprooftest"
)

func TestWordCountIsExactlyOnce(t *testing.T) {
	onceprooftest.CheckJob(t, Spec(), onceprooftest.Options{Seeds: "1-3"})
}
