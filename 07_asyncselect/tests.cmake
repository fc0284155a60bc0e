# Tests of the WSAAsyncSelect server beyond the shared ones
# (check_asyncselect_server, stress_asyncselect_server_1000). Included by
# cmake/tests.cmake; wsm_client_test runs `client ARGS --server
# asyncselect_server.exe`.

# Pipelined 4 KiB frames: sends that fail with WSAEWOULDBLOCK, the FD_WRITE
# notice that follows, and reads held back by the backpressure bound (the
# FD_READ skipped then is not posted again), all on the window's one thread.
wsm_client_test(NAME asyncselect_pipeline_65 SERVER asyncselect_server LABELS fast load
                TIMEOUT 300 ARGS load --conns 65 --msgs 200 --size 4096 --pipeline 16)

# Many closes at once: 300 connections close together, every third by
# reset, so their FD_CLOSE notices (some with an error) wait in the queue
# behind each other's FD_READ; each connection must be closed and freed once.
wsm_client_test(NAME asyncselect_close_together SERVER asyncselect_server LABELS fast load
                TIMEOUT 300 ARGS load --conns 300 --msgs 20 --size 64 --abort-every 3)

# Connect, echo, close, again and again: closed sockets' values come back
# from accept() while notices posted for the old socket may still be queued;
# each connection's own message number keeps them apart (hand_over()). And
# every fifteenth connection is reset before it sends anything, for which
# Wine 8 posts no notice at all: the first recv of watch() must close it.
# Each connection must be gone at the end of every round.
wsm_client_test(NAME asyncselect_churn SERVER asyncselect_server LABELS fast load
                TIMEOUT 300 ARGS stress --scenario churn --conns 300 --rounds 2)

# The minimal listing (minimal.c): raw echo for 50 connections on one
# window's message loop; every reply checked byte for byte, crosstalk
# counted. It has no stop machinery: the client terminates it at the end.
wsm_client_test(NAME asyncselect_minimal_load SERVER asyncselect_minimal LABELS fast load minimal
                TIMEOUT 300 ARGS load --conns 50 --msgs 50 --sizes 8,3000,100 --server-stop kill)
