#!/usr/bin/env bash
# The paper-scale check on one GPU, in one go: the three laws' published-scale sweeps
# (batch_size_scaling.py --scale full --law lr|momentum|n_train) as three processes sharing
# the GPU (each is bound by its sequential update loops, so running them side by side overlaps
# them), and the fast test files on the same GPU beside them. Each part is cut off after
# LIMIT seconds; what finished is summarised in OUT/summary.md and packed into OUT/results.tgz.
#
#   OUT=DIR bash experiments/paper_scale_gpu.sh [LIMIT] [SCALE]    # SCALE=tiny to rehearse
set -u
out="${OUT:-results/paper_scale_gpu}"
limit="${1:-500}"
scale="${2:-full}"
work="$(mktemp -d)"
mkdir -p "$out"
export XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
python="${PYTHON:-python3}"

{
    date -u
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
    "$python" -c "import jax, diffrax, equinox, optax; print('jax', jax.__version__, \
jax.devices(), 'diffrax', diffrax.__version__, 'equinox', equinox.__version__, \
'optax', optax.__version__)"
} > "$out/environment.txt" 2>&1

start=$(date +%s)
for law in lr momentum n_train; do
    ( begin=$(date +%s)
      timeout "$limit" "$python" experiments/batch_size_scaling.py --scale "$scale" \
          --law "$law" --out "$work/$law" > "$work/$law.log" 2>&1
      echo "$law: exit $?, $(( $(date +%s) - begin )) s wall" >> "$work/$law.log" ) &
done
if [ "$scale" = full ]; then
    ( timeout "$limit" "$python" -m pytest -q -p no:cacheprovider -n 3 tests/test_sde.py \
        tests/test_sgd.py tests/test_theory.py tests/test_optimizers.py tests/test_learned.py \
        > "$work/tests.log" 2>&1; echo "tests: exit $?" >> "$work/tests.log" ) &
fi
wait

{
    echo "# Paper-scale check ($scale), $(date -u +%F), $(( $(date +%s) - start )) s in all"
    echo
    echo '```'
    cat "$out/environment.txt"
    echo '```'
    for law in lr momentum n_train; do
        echo; echo "## $law"; echo
        cat "$work/$law/summary.md" 2>/dev/null || echo "(no summary: cut off or failed)"
        echo; echo '```'; tail -n 15 "$work/$law.log"; echo '```'
    done
    if [ -f "$work/tests.log" ]; then
        echo; echo "## tests on this GPU"; echo; echo '```'; tail -n 25 "$work/tests.log"
        echo '```'
    fi
} > "$out/summary.md"
tar -czf "$out/results.tgz" -C "$work" .
cat "$out/summary.md"
