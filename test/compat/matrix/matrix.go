// Package matrix is raftline's client compatibility matrix: for every Kafka
// client raftline is tested with and every feature, what a user of that
// client sees. A feature either works, fails at once with a named error (the
// broker refuses what it does not serve in a way the client gives up on), or
// is absent from the client itself.
//
// test/compat runs every cell against a three-node cluster of the real
// binary and fails when a client does anything else. docs/COMPATIBILITY.md's
// matrix section is generated from the same table (make compat-doc), and this
// package's test fails when the committed document is stale, so the
// document claims exactly what the suite checks.
package matrix

//go:generate go run ./compatdoc -doc ../../../docs/COMPATIBILITY.md

// Client is a Kafka client library or tool.
type Client struct {
	// Name is how the document and the test names call it.
	Name string
	// Version is the version tested: a Go module's from go.mod, a Debian
	// package's as installed. test/compat checks it against what it runs.
	Version string
	// How says what runs it in test/compat.
	How string
}

// The clients, in the document's column order.
var (
	FranzGo     = Client{"franz-go", "v1.22.3", "github.com/twmb/franz-go/pkg/kgo, in the test process"}
	Sarama      = Client{"sarama", "v1.61.1", "github.com/IBM/sarama, in the test process"}
	KafkaGo     = Client{"kafka-go", "v0.4.51", "github.com/segmentio/kafka-go, in the test process"}
	Confluent   = Client{"confluent-kafka", "1.7.0 (librdkafka 2.0.2)", "Debian's python3-confluent-kafka, run by /usr/bin/python3"}
	Kcat        = Client{"kcat", "1.7.1 (librdkafka 2.0.2)", "Debian's kcat"}
	KafkaPython = Client{"kafka-python", "2.0.2", "Debian's python3-kafka, run by /usr/bin/python3"}
)

// Clients lists every client, in column order.
var Clients = []Client{FranzGo, Sarama, KafkaGo, Confluent, Kcat, KafkaPython}

// Feature is one thing a client does against a broker.
type Feature struct {
	Name string
	// What the case does, for the document.
	Doc string
}

// The features, in the document's row order.
var (
	RoundTrip = Feature{"produce and consume (acks=all)",
		"Produce 20 keyed records with acks=all to a topic of 3 partitions created beforehand, then read every partition from the beginning without a group and get exactly those records back."}
	Compression = Feature{"compressed batches",
		"The same round trip once per codec: gzip, snappy, lz4 and zstd. The broker stores and serves the batches as the client compressed them."}
	AutoCreate = Feature{"first write to an auto-created topic",
		"Produce to a topic that does not exist yet, with the client's own auto-creation (Metadata allowing it); the first write must succeed without the application retrying."}
	Idempotent = Feature{"idempotent producer",
		"The round trip with idempotence on: InitProducerID, then produce with producer id, epoch and sequence numbers."}
	Admin = Feature{"create and delete topics",
		"Create a topic of 3 partitions with the client's admin API, see it in Metadata, delete it."}
	Group = Feature{"consumer group subscription",
		"Create a topic of 3 partitions with the client's admin API (kcat: the harness's), produce 20 keyed records with acks=all (idempotent where the client can), " +
			"subscribe as the only member of a consumer group, read each record once, commit, leave; OffsetFetch returns each partition's end."}
	GroupResume = Feature{"consumer group: resume from the committed offset",
		"Three members one after another: the first reads 20 records and commits; the second reads the next 20 and commits nothing; " +
			"the third reads those 20 again and 20 more. Each must start at the group's commit and read every offset up to the end once: " +
			"no gap, and nothing read twice but what was read after the last commit."}
	GroupRebalance = Feature{"consumer group: rebalance on join and leave",
		"A topic of 6 partitions, the clients' usual at-least-once commit. Two members share the partitions (each read by exactly one, each member reading some); " +
			"a third joins and all three read some; one leaves and the other two take its partitions over. " +
			"Who reads which partition is seen from probe records the harness writes to every partition, a split counting once two rounds of probes are read alike, " +
			"and DescribeGroups must show the same assignments. Every record is read at least once, and once all have left the group is Empty with its commits at the end."}
	Transactions = Feature{"transactional producer",
		"Set a transactional id and start producing. raftline has no transaction coordinator."}
)

// Features lists every feature, in row order.
var Features = []Feature{RoundTrip, Compression, AutoCreate, Idempotent, Admin, Group, GroupResume, GroupRebalance, Transactions}

// Result is what a cell expects.
type Result int

const (
	// Works: the case succeeds.
	Works Result = iota + 1
	// Refused: raftline does not serve the feature, and the client hands
	// the application an error containing Cell.Error at once: it gives up,
	// or reports the error and keeps retrying in the background.
	Refused
	// LoggedOnly: raftline does not serve the feature, and the client
	// retries for ever without telling the application; the error,
	// containing Cell.Error, reaches only the client's own log.
	LoggedOnly
	// NotInClient: the client has no such feature; nothing is run.
	NotInClient
)

// Cell is one client's expected outcome for one feature.
type Cell struct {
	Result Result
	// Error is, for Refused and LoggedOnly, a part of the error the
	// client reports.
	Error string
	// Note is shown in the document with the outcome.
	Note string
}

// Expected is the matrix: Expected[client name][feature name].
var Expected = map[string]map[string]Cell{
	FranzGo.Name: {
		RoundTrip.Name:      {Result: Works},
		Compression.Name:    {Result: Works},
		AutoCreate.Name:     {Result: Works, Note: "With kgo.AllowAutoTopicCreation()."},
		Idempotent.Name:     {Result: Works, Note: "kgo's default."},
		Admin.Name:          {Result: Works},
		Group.Name:          {Result: Works, Note: "kgo.ConsumerGroup with kgo.DisableAutoCommit, and CommitUncommittedOffsets before Close, which leaves the group."},
		GroupResume.Name:    {Result: Works},
		GroupRebalance.Name: {Result: Works, Note: "kgo's autocommit (the default), which also commits when partitions are revoked."},
		Transactions.Name: {Result: Refused, Error: "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
			Note: "The first produce in the transaction fails; the producer id is fatally failed."},
	},
	Sarama.Name: {
		RoundTrip.Name:      {Result: Works},
		Compression.Name:    {Result: Works},
		AutoCreate.Name:     {Result: Works},
		Idempotent.Name:     {Result: Works, Note: "Producer.Idempotent with Net.MaxOpenRequests=1."},
		Admin.Name:          {Result: Works},
		Group.Name:          {Result: Works, Note: "Consumer.Offsets.Initial=OffsetOldest (by default a group without commits starts at the end). MarkMessage each record, Consumer.Offsets.AutoCommit.Enable=false and session.Commit() in the handler's Cleanup."},
		GroupResume.Name:    {Result: Works},
		GroupRebalance.Name: {Result: Works, Note: "MarkMessage each record; sarama's auto-commit (the default)."},
		Transactions.Name: {Result: Refused, Error: "Transactional ID authorization failed",
			Note: "NewSyncProducer / NewAsyncProducer return the error."},
	},
	KafkaGo.Name: {
		RoundTrip.Name: {Result: Works,
			Note: "kafka-go's Writer waits BatchTimeout (1 s by default) for a batch to fill. Writers sharing DefaultTransport see a topic created in the last 6 s (its metadata cache) only with AllowAutoTopicCreation."},
		Compression.Name:    {Result: Works},
		AutoCreate.Name:     {Result: Works, Note: "Writer.AllowAutoTopicCreation."},
		Idempotent.Name:     {Result: NotInClient},
		Admin.Name:          {Result: Works},
		Group.Name:          {Result: Works, Note: "A Reader with GroupID: FetchMessage, then CommitMessages (ReadMessage commits each record itself). ReaderConfig.MaxWait 500 ms: Reader.Close waits out the fetch in flight, up to 10 s by default."},
		GroupResume.Name:    {Result: Works},
		GroupRebalance.Name: {Result: Works, Note: "CommitMessages after each record. While the group rebalances the Reader logs REBALANCE_IN_PROGRESS to its ErrorLogger and rejoins."},
		Transactions.Name:   {Result: NotInClient},
	},
	Confluent.Name: {
		RoundTrip.Name: {Result: Works,
			Note: "Consume with assign(), no commit. confluent-kafka requires a group.id even then; librdkafka looks the group's coordinator up and the consumer reads without a word from it."},
		Compression.Name:    {Result: Works},
		AutoCreate.Name:     {Result: Works},
		Idempotent.Name:     {Result: Works, Note: "enable.idempotence=true."},
		Admin.Name:          {Result: Works},
		Group.Name:          {Result: Works, Note: "auto.offset.reset=earliest (by default a group without commits starts at the end); enable.auto.commit=false and commit(asynchronous=False) before close()."},
		GroupResume.Name:    {Result: Works},
		GroupRebalance.Name: {Result: Works, Note: "librdkafka's auto-commit (the default)."},
		Transactions.Name: {Result: Refused, Error: "TRANSACTIONAL_ID_AUTHORIZATION_FAILED",
			Note: "init_transactions() raises a fatal KafkaError."},
	},
	Kcat.Name: {
		RoundTrip.Name:      {Result: Works},
		Compression.Name:    {Result: Works},
		AutoCreate.Name:     {Result: Works},
		Idempotent.Name:     {Result: Works, Note: "-X enable.idempotence=true."},
		Admin.Name:          {Result: NotInClient},
		Group.Name:          {Result: Works, Note: "kcat -G with -X auto.offset.reset=earliest, not -o beginning: -o starts every partition assigned at that offset, whatever the group committed. kcat has no commit of its own: librdkafka commits what kcat printed when it exits on SIGTERM, even with -X enable.auto.commit=false; -X enable.auto.offset.store=false commits nothing."},
		GroupResume.Name:    {Result: Works},
		GroupRebalance.Name: {Result: Works},
		Transactions.Name:   {Result: Refused, Error: "Transactional Id authorization failed", Note: "kcat -P -X transactional.id=... exits with status 1."},
	},
	KafkaPython.Name: {
		RoundTrip.Name:      {Result: Works},
		Compression.Name:    {Result: Works, Note: "gzip only: Debian's python3-kafka comes without the snappy, lz4 and zstd codecs."},
		AutoCreate.Name:     {Result: Works},
		Idempotent.Name:     {Result: NotInClient, Note: "kafka-python 2.0.2 has no such setting."},
		Admin.Name:          {Result: Works},
		Group.Name:          {Result: Works, Note: "auto_offset_reset=\"earliest\" (the default is the end); enable_auto_commit=False, commit(), then close(autocommit=False)."},
		GroupResume.Name:    {Result: Works},
		GroupRebalance.Name: {Result: Works, Note: "kafka-python's auto-commit (the default)."},
		Transactions.Name:   {Result: NotInClient, Note: "kafka-python 2.0.2 has no such setting."},
	},
}
