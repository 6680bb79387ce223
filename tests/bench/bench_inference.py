#!/usr/bin/env python3
"""Inference speed of the ML engine, as ratios measured in one run of this script.

ResNet-18 (standard stem, 224 x 224, one channel, batch 1), untrained weights (speed does not
depend on them), median of 21 runs per process after 5 warm-up runs:
  1. Radiolens's engine (MlRuntime: 2 threads, passive OpenMP waiting, 1 BLAS thread, inference
     plans: BatchNorm folded, weights prepared once for oneDNN) against LibTorch's defaults on
     the same model (1 thread, libgomp's default spinning, the module's own forward), 5
     processes of each, alternating; target ratio >= 1.4. Between them, for the record, the
     engine's threads and waiting without the plans;
  2. the engine while another process keeps one core busy, against idle; target <= 2x;
  3. Grad-CAM, Integrated Gradients (32 steps, one batch) and occlusion (14 x 14) in the
     engine's process; targets Grad-CAM <= 1.2x one inference, occlusion <= 4 s.

usage: python3 tests/bench/bench_inference.py [BUILD_DIR]
"""
import json
import pathlib
import statistics
import subprocess
import sys
import tempfile

BUILD = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else 'build')
BENCH = BUILD / 'bin' / 'bench_inference'


def run(*args, env=None):
    out = subprocess.run([str(BENCH), *map(str, args)], capture_output=True, text=True,
                         check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else None


def main():
    with tempfile.TemporaryDirectory() as tmp:
        model = pathlib.Path(tmp) / 'resnet18-224'
        run('--create', model)
        default, modules, ours = [], [], []
        for _ in range(5):
            default.append(run('--mode', 'default', model, '--runs', 21)['inferenceMs'])
            modules.append(run('--mode', 'modules', model, '--runs', 21)['inferenceMs'])
            ours.append(run('--mode', 'radiolens', model, '--runs', 21)['inferenceMs'])
        busy = subprocess.Popen([sys.executable, '-c', 'while True: pass'])
        try:
            loaded = [run('--mode', 'radiolens', model, '--runs', 21)['inferenceMs']
                      for _ in range(5)]
        finally:
            busy.kill()
        maps = run('--mode', 'radiolens', model, '--runs', 21, '--saliency')
    d, o, l = statistics.median(default), statistics.median(ours), statistics.median(loaded)
    m = statistics.median(modules)
    print(f"{'ResNet-18 224 px, batch 1':52} {'median ms':>10}")
    print(f"{'LibTorch defaults (1 thread, module forward)':52} {d:10.1f}   runs {', '.join(f'{x:.1f}' for x in default)}")
    print(f"{'  2 threads, passive wait, module forward':52} {m:10.1f}   runs {', '.join(f'{x:.1f}' for x in modules)}")
    print(f"{'Radiolens engine (2 threads, passive, plans)':52} {o:10.1f}   runs {', '.join(f'{x:.1f}' for x in ours)}")
    print(f"{'  speed-up':52} {d / o:10.2f}x  (target >= 1.4x)")
    print(f"{'Radiolens engine, one core kept busy':52} {l:10.1f}   runs {', '.join(f'{x:.1f}' for x in loaded)}")
    print(f"{'  against idle':52} {l / o:10.2f}x  (target <= 2x)")
    print(f"{'Grad-CAM':52} {maps['gradCamMs']:10.1f}   {maps['gradCamMs'] / maps['inferenceMs']:.2f}x one inference ({maps['inferenceMs']:.1f} ms; target <= 1.2x)")
    print(f"{'Integrated Gradients, 32 steps in one batch':52} {maps['integratedGradientsMs']:10.1f}")
    print(f"{'Occlusion, 14 x 14':52} {maps['occlusionMs']:10.1f}   (target <= 4000 ms)")
    print(json.dumps({'bench': 'inference', 'defaultMs': d, 'modulesMs': m, 'radiolensMs': o,
                      'speedup': d / o,
                      'busyMs': l, 'busyOverIdle': l / o, **{k: v for k, v in maps.items()
                                                             if k.endswith('Ms')}}))


if __name__ == '__main__':
    main()
