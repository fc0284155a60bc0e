# Extra tests of the WSAEventSelect server (included by cmake/tests.cmake).
# 130 connections at once span three workers (63 sockets each): the
# 64-handle edge and the hand-over to a second and third worker.
wsm_client_test(NAME eventselect_workers_130 SERVER eventselect_server LABELS fast load
                TIMEOUT 300 ARGS load --conns 130 --msgs 20 --size 64)
# Pipelined 4 KiB frames: sends that fail with WSAEWOULDBLOCK, the FD_WRITE
# edge, and reads held back by the backpressure bound, across two workers.
wsm_client_test(NAME eventselect_pipeline_65 SERVER eventselect_server LABELS fast load
                TIMEOUT 300 ARGS load --conns 65 --msgs 200 --size 4096 --pipeline 16)
