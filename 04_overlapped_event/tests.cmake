# Regression tests for the two known bugs of article 003 (section 六),
# which this model fixes (docs/04_overlapped_event.md, "Pitfalls").
# Included by cmake/tests.cmake; wsm_client_test runs `client ARGS --server`.

# Bug 1, "several clients exiting in a row sometimes crash": connections
# opened and closed one after another, every third by reset (churn), then
# 300 connections spread over 10 waiting threads that all close at the
# same moment, every third by reset (--abort-every 3). A context freed or moved under a pending WSARecv
# crashes the server or leaks; the client fails on either (it requires exit
# code 0 and connections_current=0 at the end).
wsm_client_test(NAME overlapped_event_bug1_churn SERVER overlapped_event_server
                LABELS fast conformance TIMEOUT 300 ARGS check --only churn,simultaneous)
wsm_client_test(NAME overlapped_event_bug1_close_together SERVER overlapped_event_server
                LABELS fast load TIMEOUT 300
                ARGS load --conns 300 --msgs 20 --size 64 --abort-every 3)

# Bug 2, "client A's data is followed by data client B sent earlier": 50
# connections sending long then short payloads (crosstalk), then a load
# whose payload sizes rotate long and short per connection (--sizes), and
# one of tiny pipelined frames; every reply is compared byte for byte and a
# reply carrying another connection's bytes counts as crosstalk.
wsm_client_test(NAME overlapped_event_bug2_crosstalk SERVER overlapped_event_server
                LABELS fast conformance TIMEOUT 300 ARGS check --only crosstalk)
wsm_client_test(NAME overlapped_event_bug2_long SERVER overlapped_event_server
                LABELS fast load TIMEOUT 300
                ARGS load --conns 130 --msgs 20 --sizes 65536,8,30000,100 --pipeline 2)
wsm_client_test(NAME overlapped_event_bug2_short SERVER overlapped_event_server
                LABELS fast load TIMEOUT 300
                ARGS load --conns 130 --msgs 200 --size 8 --pipeline 8)

# The same battery against the article's bugs patched back in (see
# CMakeLists.txt; built when git or patch is there): each test passes only
# when the battery reports the failure the bug causes, so it fails if the
# bug stopped being caught. The
# normal server passes the same commands above (bug1_churn, bug2_crosstalk).
# Bug 1 frees the block a pending WSARecv still points into: churn and
# simultaneous catch it in some runs (leaked contexts, missing replies),
# stop in every run, as exit code 4 (still open at exit) or, when the
# receive's completion has already written into the freed block, as the
# heap's crash (0xC0000005, exit code 3221225477).
if(WSM_ARTICLE003_BUG_BUILDS)
wsm_client_test(NAME overlapped_event_article003_bug1
                SERVER overlapped_event_server_article003_bug1 LABELS fast conformance
                TIMEOUT 120 ARGS check --only churn,simultaneous,stop --timeout 3)
set_tests_properties(overlapped_event_article003_bug1 PROPERTIES
                     PASS_REGULAR_EXPRESSION "FAIL stop: [^\n]*exited with code (4|3221225477)[^0-9]")
# Bug 2 hands one connection the bytes another one received: crosstalk
# sees a reply with another connection's bytes, or none when the mixed
# bytes no longer parse as the frame that was sent.
wsm_client_test(NAME overlapped_event_article003_bug2
                SERVER overlapped_event_server_article003_bug2 LABELS fast conformance
                TIMEOUT 120 ARGS check --only crosstalk --timeout 3)
set_tests_properties(overlapped_event_article003_bug2 PROPERTIES
                     PASS_REGULAR_EXPRESSION "FAIL crosstalk: ")
endif()

# The minimal listing (minimal.c): 31 clients, its limit (63 of the 64
# handles of one wait), echoing frames of mixed sizes; every reply is
# checked byte for byte and a reply with another client's bytes counts as
# crosstalk. It has no stop machinery, so the client terminates it.
wsm_client_test(NAME overlapped_event_minimal_load SERVER overlapped_event_minimal
                LABELS fast load minimal TIMEOUT 300
                ARGS load --conns 31 --msgs 50 --sizes 8,3000,100 --server-stop kill)
