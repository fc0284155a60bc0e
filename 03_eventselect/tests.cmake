# Extra tests of the WSAEventSelect server (included by cmake/tests.cmake).
# 130 connections at once span three workers (63 sockets each): the
# 64-handle edge and the hand-over to a second and third worker.
wsm_client_test(NAME eventselect_workers_130 SERVER eventselect_server LABELS fast load
                TIMEOUT 300 ARGS load --conns 130 --msgs 20 --size 64)
# Pipelined 4 KiB frames: sends that fail with WSAEWOULDBLOCK, the FD_WRITE
# notice, and reads held back by the backpressure bound, across two workers.
wsm_client_test(NAME eventselect_pipeline_65 SERVER eventselect_server LABELS fast load
                TIMEOUT 300 ARGS load --conns 65 --msgs 200 --size 4096 --pipeline 16)
# The minimal listing (minimal.c): raw echo for 60 connections, one wait
# of 61 handles; every reply checked byte for byte, crosstalk counted. It
# has no stop machinery: the client terminates it at the end.
wsm_client_test(NAME eventselect_minimal_load SERVER eventselect_minimal LABELS fast load minimal
                TIMEOUT 300 ARGS load --conns 60 --msgs 50 --sizes 8,3000,100 --server-stop kill)
