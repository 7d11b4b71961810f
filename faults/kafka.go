package faults

// The Kafka names a plan may use, kept here so that package faults needs
// nothing beyond the standard library. The spellings are kmsg's
// (kmsg.NameForKey) and kerr's (kerr.Error.Message); the numbers are the
// protocol's request keys and error codes, so an injector can hand them to
// kmsg.Key and kerr.ErrorForCode without a second table.

// kafkaName is a name of the protocol with its number: a request's key or
// an error's code.
type kafkaName struct {
	name string
	num  int16
}

// kafkaRequests are the requests onceproof's processes, its reader and its
// set-up issue, by protocol key.
var kafkaRequests = []kafkaName{
	{"Produce", 0},
	{"Fetch", 1},
	{"ListOffsets", 2},
	{"Metadata", 3},
	{"OffsetCommit", 8},
	{"OffsetFetch", 9},
	{"FindCoordinator", 10},
	{"ApiVersions", 18},
	{"InitProducerID", 22},
	{"AddPartitionsToTxn", 24},
	{"AddOffsetsToTxn", 25},
	{"EndTxn", 26},
	{"TxnOffsetCommit", 28},
}

// kafkaErrors are the broker errors a plan can inject: the common ones a
// client of a transactional pipeline must survive, by protocol code.
var kafkaErrors = []kafkaName{
	{"NOT_LEADER_FOR_PARTITION", 6},
	{"REQUEST_TIMED_OUT", 7},
	{"COORDINATOR_NOT_AVAILABLE", 15},
	{"NOT_COORDINATOR", 16},
	{"CONCURRENT_TRANSACTIONS", 51},
	{"UNKNOWN_SERVER_ERROR", -1},
	{"NETWORK_EXCEPTION", 13},
	{"COORDINATOR_LOAD_IN_PROGRESS", 14},
}

// KafkaRequests returns the request names a plan may use, as kmsg spells
// them ("Produce", "EndTxn", "InitProducerID", ...).
func KafkaRequests() []string { return kafkaNames(kafkaRequests) }

// KafkaRequestKey returns the protocol key of the request named name (the
// value of kmsg.Key), and whether the name is known.
func KafkaRequestKey(name string) (int16, bool) { return kafkaNumber(kafkaRequests, name) }

// KafkaErrors returns the error names a plan may inject, as kerr spells
// them ("NOT_LEADER_FOR_PARTITION", ...).
func KafkaErrors() []string { return kafkaNames(kafkaErrors) }

// KafkaErrorCode returns the protocol code of the error named name (for
// kerr.ErrorForCode), and whether the name is known.
func KafkaErrorCode(name string) (int16, bool) { return kafkaNumber(kafkaErrors, name) }

// kafkaNames returns the names of table, in its order.
func kafkaNames(table []kafkaName) []string {
	out := make([]string, len(table))
	for i, n := range table {
		out[i] = n.name
	}
	return out
}

// kafkaNumber returns the number of the entry of table named name, and whether
// there is one.
func kafkaNumber(table []kafkaName, name string) (int16, bool) {
	for _, n := range table {
		if n.name == name {
			return n.num, true
		}
	}
	return 0, false
}
