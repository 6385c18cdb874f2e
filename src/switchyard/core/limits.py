"""Every bound in the system, with its unit and why it has that value.

Runtime-configurable bounds take these as defaults; the import-time asserts keep the
relationships between them true.
"""

# --- HTTP ingress -----------------------------------------------------------------
HTTP_BODY_SIZE_MAX_BYTES = 64 * 1024  # an order is ~200 B; 64 KiB leaves room for batch admin calls
HTTP_HEADER_SIZE_MAX_BYTES = 16 * 1024  # request line + headers (nginx allows 4 x 8 KiB)
HTTP_HEADER_COUNT_MAX = 100  # header floods are refused with 431
HTTP_URL_SIZE_MAX_BYTES = 4 * 1024
HTTP_HEADER_TIMEOUT_S = 10.0  # a request head must arrive within this (slowloris), else 408
HTTP_BODY_TIMEOUT_S = 10.0  # a body must arrive within this after its head, else 408
HTTP_KEEPALIVE_IDLE_S = 75.0  # idle keep-alive connections are closed after this
HTTP_CONNECTIONS_MAX = 4096  # global cap; beyond it new connections get 503 and are closed
HTTP_PIPELINE_DEPTH_MAX = 64  # unanswered pipelined requests per connection before we stop reading
HTTP_WRITE_BUFFER_HIGH_BYTES = 256 * 1024  # transport write buffer above which we pause reading

# --- Sequencer ----------------------------------------------------------------------
SEQUENCER_INBOX_MAX = 65_536  # commands waiting for the sequencer; full -> 503 QUEUE_REJECT
SEQUENCER_BATCH_SIZE_MAX = 1_024  # commands applied per drain before yielding to the loop

# --- Order store and idempotency ------------------------------------------------------
ORDERS_RETAINED_MAX = 1_000_000  # terminal orders kept in memory (oldest evicted; WAL keeps all)
ORDERS_OPEN_MAX = 500_000  # live (non-terminal) orders across all accounts; beyond -> 503
IDEMPOTENCY_ENTRIES_MAX = 2_000_000  # idempotency keys remembered (TTL first, then oldest)
CLIENT_ORDER_ID_LEN_MAX = 64
IDEMPOTENCY_KEY_LEN_MAX = 128
ACCOUNT_ID_LEN_MAX = 64
SYMBOL_LEN_MAX = 16
ORDER_QTY_MAX = 10**9  # lots: far above any risk limit; qty x price stays within int64
ORDER_PRICE_MAX = 10**9  # ticks: with ORDER_QTY_MAX, every notional fits a signed 64-bit int
ORDERS_LIST_LIMIT_MAX = 1_000  # GET /orders?limit=

# --- WAL ----------------------------------------------------------------------------
WAL_RECORD_PAYLOAD_MAX_BYTES = 60 * 1024  # one record; larger payloads are a programming error
WAL_SEGMENT_SIZE_BYTES = 64 * 1024 * 1024  # segment roll size (preallocated)
WAL_BATCH_RECORDS_MAX = 4_096  # hard cap on AUDIT_FDATASYNC_MAX_BATCH
WAL_BATCH_WAIT_US_MAX = 100_000  # hard cap on AUDIT_FDATASYNC_MAX_WAIT_US
WAL_CHUNK_MAX_BYTES = 4 * 1024 * 1024  # one commit() hand-off; a bigger one is split at records
WAL_PENDING_MAX_BYTES = 256 * 1024 * 1024  # appended, not yet durable; the runtime refuses first
WAL_ANCHORS_RETAINED_MAX = 1_000  # anchor files kept under wal/anchors (older ones are pruned)
WAL_LOCK_WAIT_MAX_S = 30.0  # how long open() waits for an exiting writer process to finish

# --- SSE ----------------------------------------------------------------------------
SSE_SUBSCRIBERS_MAX = 1_024  # concurrent SSE connections
SSE_SUBSCRIBER_BUFFER_MAX_EVENTS = 4_096  # per subscriber; a slower reader is dropped and counted
SSE_RECENT_RECORDS_MAX = 65_536  # ring for Last-Event-ID resume; older events come from disk
SSE_HEARTBEAT_S = 15.0

# --- Venue --------------------------------------------------------------------------
VENUE_OUTBOUND_QUEUE_MAX = 65_536  # requests waiting for the venue; full -> 503 QUEUE_REJECT
VENUE_TCP_LINE_MAX_BYTES = 64 * 1024  # longer lines on the venue protocol close the connection
VENUE_TCP_WRITE_BUFFER_MAX_BYTES = 4 * 1024 * 1024  # a slower reader is cut off beyond this
VENUE_ORDERS_OPEN_MAX = 1_000_000  # resting orders, all books; beyond -> REJECTED VENUE_REJECTED
VENUE_FINAL_ORDERS_RETAINED_MAX = 200_000  # final orders remembered for dedupe/STATUS (~40 MB)
VENUE_SESSION_BACKLOG_MAX = 65_536  # reports held for a detached TCP session; more: dropped+counted
VENUE_BOOK_DEPTH_MAX = 1_000  # price levels per side in one L2 snapshot
VENUE_TCP_RECONNECT_BACKOFF_MAX_S = 2.0  # cap of the client's exponential reconnect backoff
VENUE_TCP_CONNECTIONS_MAX = 256  # clients of one `switchyard venue`; more are closed at once
VENUE_TCP_ERRORS_MAX = 100  # protocol errors tolerated on one connection before it is closed

assert SEQUENCER_BATCH_SIZE_MAX <= SEQUENCER_INBOX_MAX
assert HTTP_URL_SIZE_MAX_BYTES < HTTP_HEADER_SIZE_MAX_BYTES
assert SSE_SUBSCRIBER_BUFFER_MAX_EVENTS <= SSE_RECENT_RECORDS_MAX
assert WAL_RECORD_PAYLOAD_MAX_BYTES < WAL_SEGMENT_SIZE_BYTES
assert WAL_RECORD_PAYLOAD_MAX_BYTES < WAL_CHUNK_MAX_BYTES < WAL_SEGMENT_SIZE_BYTES
assert WAL_CHUNK_MAX_BYTES <= WAL_PENDING_MAX_BYTES
assert ORDERS_OPEN_MAX <= ORDERS_RETAINED_MAX
# Notionals travel as msgpack/JSON integers and PostgreSQL BIGINT: keep them below 2**63.
assert ORDER_QTY_MAX * ORDER_PRICE_MAX < 2**63
assert VENUE_TCP_LINE_MAX_BYTES < VENUE_TCP_WRITE_BUFFER_MAX_BYTES
