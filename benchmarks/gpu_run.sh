#!/usr/bin/env bash
# On a lent GPU machine (no network): unpack the carried kit parts, check them, run notebooks in full mode.
#   bash benchmarks/gpu_run.sh "wheels cifar" 04_cifar10_cnn.ipynb
# Needs: the parts named in the first argument unpacked now or by an earlier call on the same (warm)
# machine; carry the ones this call brings (.kit/<part>). Results: $OUT/results-<stamp>.tgz holding the
# executed notebooks, results-full.md/.json and the log.
set -euo pipefail
need=$1; shift
kit=${KIT:-/root/kit}
export PYTHONUNBUFFERED=1
for part in $need; do
  if [ -d ".kit/$part" ] && [ ! -e "$kit/manifests/$part.json" ]; then
    python3 benchmarks/gpu_kit.py unpack ".kit/$part" --into "$kit"
  fi
done
python3 benchmarks/gpu_kit.py check --into "$kit" $need
export PYTHONPATH="$kit/site:$PWD" WORKBOOK_DATA="$kit/mirror" WORKBOOK_OFFLINE=1 WORKBOOK_CACHE="$kit/cache"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
stamp=$(date +%H%M%S)
reports="$kit/reports-$stamp"
mkdir -p "$reports"
status=0
python3 -m helpers.report --mode full --out "$reports" "$@" 2>&1 | tee "$reports/log.txt" || status=$?
tar czf "${OUT:-/tmp}/results-$stamp.tgz" -C "$kit" "reports-$stamp"
exit $status
