# Process settings the gateway is run and measured with; they must be in place before node starts.
# Sourced (`. scripts/gateway-env.sh`) by scripts/start-gateway.sh and by `npm run bench`, whose
# benchmarks also drive gateways inside their own process.
#
# glibc's malloc gives the top of its heap back to the kernel as soon as 128 KiB are free there.
# Every socket read of a request body is a fresh 64 KiB buffer (Node's HTTP parser copies each
# read), freed by the hundred at each young-generation collection: the heap shrank and grew again
# all the time, and every regrowth page-faulted. On the 2-vCPU VM this project is measured on, a
# 2 GiB upload took 75,000-250,000 page faults and 3.7-7.2 CPU-seconds; with up to 128 MiB kept
# free at the top, 2,000-3,300 faults and 2.3-3.0 CPU-seconds (README, Memory). What is kept is
# memory the process had already used at its peak. Other C libraries ignore the variable.
GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.trim_threshold=134217728"
export GLIBC_TUNABLES
