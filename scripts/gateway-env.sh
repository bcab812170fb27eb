# Process settings the gateway is run and measured with; they must be in place before node starts.
# Sourced (`. scripts/gateway-env.sh`) by scripts/start-gateway.sh and by `npm run bench`, whose
# benchmarks also drive gateways inside their own process.
#
# glibc's malloc trim threshold, raised to 128 MiB: at its default (128 KiB) the heap shrank and
# grew again with every batch of freed 64 KiB socket-read buffers, and each regrowth page-faulted;
# an upload took about twice the CPU. Figures and the price: README, "Memory". Other C libraries
# ignore the variable.
GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.trim_threshold=134217728"
export GLIBC_TUNABLES
