# Tests of the thread-pool server beyond the shared ones
# (check_threadpool_server, stress_threadpool_server_1000). Included by
# cmake/tests.cmake; wsm_client_test runs `client ARGS --server
# threadpool_server.exe`.

# The other two ways to run it: the conformance battery again with
# FILE_SKIP_COMPLETION_PORT_ON_SUCCESS (--opt skip: an operation that
# succeeds at once brings no callback, and CancelThreadpoolIo must be called
# for it), and on a private pool of 2 threads (--threads 2: CreateThreadpool,
# its minimum and maximum) instead of the process's default pool.
wsm_server_test(NAME check_threadpool_server_skip SERVER threadpool_server
                SERVER_ARGS "--opt skip" LABELS fast conformance TIMEOUT 300 ARGS check)
wsm_server_test(NAME check_threadpool_server_private SERVER threadpool_server
                SERVER_ARGS "--threads 2" LABELS fast conformance TIMEOUT 300 ARGS check)

# Many closes at once while receives are pending: 300 connections close
# together, every third by reset, so callbacks with errors (64, 676, 995)
# race the closes on several pool threads; every context must be closed
# once, and freed once by the main thread after WaitForThreadpoolIoCallbacks.
wsm_client_test(NAME threadpool_close_together SERVER threadpool_server LABELS fast load
                TIMEOUT 300 ARGS load --conns 300 --msgs 20 --size 64 --abort-every 3)

# Large pipelined frames: replies leave several WSABUFs per WSASend, and
# backpressure stops and restarts the receives; at the end every connection
# closes at once, every fourth by a reset, while its receive is pending.
wsm_client_test(NAME threadpool_pipeline_large SERVER threadpool_server LABELS fast load
                TIMEOUT 300
                ARGS load --conns 50 --msgs 40 --size 65536 --pipeline 8 --abort-every 4)

# The same with skip-on-success: the sends and receives that end at once
# are finished by the thread that posted them, after CancelThreadpoolIo.
wsm_server_test(NAME threadpool_pipeline_skip SERVER threadpool_server
                SERVER_ARGS "--opt skip" LABELS fast load TIMEOUT 300
                ARGS load --conns 50 --msgs 40 --size 65536 --pipeline 8 --abort-every 4)

# The minimal listing (minimal.c): 50 connections echo 50 frames each whose
# sizes rotate 8, 3000 and 100 bytes, so a frame often spans the listing's
# 4 KiB buffers; the client checks every reply byte for byte and counts a
# reply that carries another connection's bytes as crosstalk. A closed
# connection is freed in its last callback, after CloseThreadpoolIo. The
# listing has no stop event, so the client terminates it.
wsm_client_test(NAME threadpool_minimal_load SERVER threadpool_minimal
                LABELS fast load minimal TIMEOUT 300
                ARGS load --conns 50 --msgs 50 --sizes 8,3000,100 --server-stop kill)
