# Tests of the completion-port model beyond the shared ones (check_iocp_server,
# stress_iocp_server_1000). Included by cmake/tests.cmake; wsm_client_test
# runs `client ARGS --server iocp_server.exe`. See docs/06_iocp.md.

# The three switches a reader can flip (docs/06_iocp.md, "The three
# switches"): the whole conformance battery again with
# GetQueuedCompletionStatusEx batching (off by default), without
# FILE_SKIP_COMPLETION_PORT_ON_SUCCESS (on by default: operations that
# succeed at once are finished inline, with no completion packet; noskip
# gives every operation its packet), and with deferred receives (off by
# default, Wine-measured tuning: a worker posts the receive planned after a
# packet a little later).
wsm_server_test(NAME check_iocp_server_batch SERVER iocp_server SERVER_ARGS "--opt batch"
                LABELS fast conformance TIMEOUT 300 ARGS check)
wsm_server_test(NAME check_iocp_server_noskip SERVER iocp_server SERVER_ARGS "--opt noskip"
                LABELS fast conformance TIMEOUT 300 ARGS check)
wsm_server_test(NAME check_iocp_server_defer SERVER iocp_server SERVER_ARGS "--opt defer"
                LABELS fast conformance TIMEOUT 300 ARGS check)

# Shutdown with operations pending: the stop check sets the stop event while
# ten connections are open (idle, inside a frame, after an echo), so a
# zero-byte or real WSARecv is pending on each and the AcceptEx pool is
# posted; the server must cancel them all, wait for every completion, and
# exit 0 within 5 s with connections_current=0. Run with batching on as
# well as the default inline completions, which change the order of events;
# stop_busy stops it again with sends pending behind unread replies.
wsm_server_test(NAME iocp_stop_pending SERVER iocp_server SERVER_ARGS "--opt batch"
                LABELS fast conformance TIMEOUT 300 ARGS check --only stop,stop_busy)

# Many closes at once while receives are pending: 300 connections close
# together, every third by reset, so completions with errors (64, 676, 995)
# race the closes on several workers; every context must be freed once.
wsm_client_test(NAME iocp_close_together SERVER iocp_server LABELS fast load TIMEOUT 300
                ARGS load --conns 300 --msgs 20 --size 64 --abort-every 3)

# Large pipelined frames: the connection's receive buffer grows to 64 KiB,
# replies leave several WSABUFs per WSASend, and backpressure stops and
# restarts the receives.
wsm_client_test(NAME iocp_pipeline_large SERVER iocp_server LABELS fast load TIMEOUT 300
                ARGS load --conns 50 --msgs 40 --size 65536 --pipeline 8)

# The minimal listing (minimal.c): 50 connections echo 50 frames each whose
# sizes rotate 8, 3000 and 100 bytes, so a frame often spans the listing's
# 4 KiB buffers; the client checks every reply byte for byte and counts a
# reply that carries another connection's bytes as crosstalk. The listing
# has no stop event, so the client terminates it.
wsm_client_test(NAME iocp_minimal_load SERVER iocp_minimal
                LABELS fast load minimal TIMEOUT 300
                ARGS load --conns 50 --msgs 50 --sizes 8,3000,100 --server-stop kill)
