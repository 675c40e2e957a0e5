/**
 * Examples shown by `uol <command> --help`, two or three real command lines per command (kept here, not in the command
 * modules, so that every command's help has them; commands/index.ts adds them to each builder). Paths such as
 * data/*.jpg and data/tiny-cub are the sample photos and the tiny CUB set shipped with the package.
 */

/** Command name → [command line, what it does]. */
export const EXAMPLES: Readonly<Record<string, readonly (readonly [string, string])[]>> = {
  demo: [
    ['uol demo', 'fit, evaluate, localize and explain on the bundled photos; writes uol-demo/index.html'],
    ['uol demo --out /tmp/demo --progress none', 'the same, elsewhere, without progress bars'],
  ],
  info: [
    ['uol info', 'active backend, native kernels and every backbone (which work offline)'],
    ['uol info --json', 'the same as one JSON object'],
    ['uol info --backend cpu --native off', 'what a forced plain backend reports'],
  ],
  fit: [
    ["uol fit --images 'data/*.jpg' --out predictor.json", 'w* from photos, no labels (embedded backbone, offline)'],
    ['uol fit --backbone dino_vits16 --dataset cub --data-dir CUB_200_2011 --out cub.json', 'a dataset split (train) with a fetched backbone'],
    ['uol fit --from-features feats/ --labels labels.csv --classwise --out cw.json', 'your own feature maps, one w per class too'],
  ],
  localize: [
    ["uol localize 'data/*.jpg' --predictor predictor.json --out loc/", 'boxes.json and maps/<name>.npy per photo'],
    ['uol localize photos/ --predictor predictor.json --overlays --coco --threshold 0.3 --out loc/', 'overlays, report.html and COCO pseudo-labels at τ = 0.3'],
    ['uol localize --predictor p.json --dataset cub --data-dir CUB_200_2011 --split test --out loc/', "a dataset split with its eval transform"],
  ],
  evaluate: [
    ['uol evaluate --predictor predictor.json --dataset cub --data-dir data/tiny-cub --val-split train --out eval/', 'choose τ on train, report test, store τ in the predictor'],
    ['uol evaluate --caam --backbone dino_vits16 --dataset cub --data-dir CUB_200_2011', 'the CAAM baseline'],
    ['uol evaluate --scoremaps maps/ --metadata metadata/CUB/test', 'metrics of saved score maps (wsolevaluation layout)'],
  ],
  merge: [
    ['uol merge part-*.stats.json --out predictor.json', 'combine the statistics of `uol fit --shard i/N` runs'],
    ['uol merge a.stats.json b.stats.json --statistics --out all.stats.json', 'merge into one statistics file (mergeable again) instead of a predictor'],
  ],
  ablate: [
    ['uol ablate --backbones nsfwjs-mobilenetv2 --caam --dataset cub --data-dir data/tiny-cub --out ablation/', 'RPS vs CAAM for one backbone'],
    ['uol ablate --backbones dino_vits16,dino_vits8 --dataset cub --data-dir CUB_200_2011 --out ablation/', 'compare backbones on CUB'],
  ],
  explain: [
    ['uol explain data/darknet_eagle.jpg --predictor predictor.json --out why/', 'the stored representer points behind the predicted box'],
    ["uol explain data/darknet_eagle.jpg --predictor predictor.json --train-images 'data/*.jpg' --region pixel --out why/", 'exact mode: every training point'],
    ['uol explain photo.jpg --predictor predictor.json --at 245,210 --top 12 --out why/', 'one cell, at a pixel of the photo'],
  ],
  extract: [
    ['uol extract data/*.jpg --out feats/', '<stem>.npy float32 [h,w,C] per image (embedded backbone)'],
    ['uol extract photos/ --backbone dino_vits16 --size 448 --out feats/', 'a fetched backbone at 448×448'],
  ],
  convert: [
    ['uol convert dino_deitsmall16_pretrain.pth --arch vit_small --patch 16', 'a PyTorch checkpoint into converted-models/<stem>/'],
    ['uol convert moco_v1_200ep_pretrain.pth.tar --release mocov1', "the file the authors' main.py loads for --loc_network mocov1, strictly"],
    ['uol convert --release-list', "the release's networks: file, container key, prefix, public URL"],
    ['uol convert moco_v2_800ep_pretrain.pth.tar --arch resnet50 --name mocov2 --out models/mocov2', 'a MoCo ResNet-50 into a folder you choose'],
  ],
  fetch: [
    ['uol fetch dino_vits16', 'download (resumable), verify and convert into converted-models/dino_vits16/'],
    ['uol fetch moco_v2_800ep --models-dir ~/uol-models', 'into another models folder ($UOL_MODELS_DIR)'],
  ],
  data: [
    ['uol data formats', 'every --dataset reader and the files it parses'],
    ['uol data inspect --dataset cub --data-dir data/tiny-cub', 'check a dataset folder: splits, labels, boxes'],
    ['uol data inspect --dataset wsol --data-dir wsolevaluation/dataset/CUB --metadata wsolevaluation/metadata/CUB --decode', 'also decode every image'],
  ],
  'convert-classifier': [
    ['uol convert-classifier torchvision_resnet50 resnet50-19c8e357.pth --out models/r50-cls', 'an ImageNet classifier for Top-1/Top-5 Loc'],
    ['uol convert-classifier dino_vits8_linear dino_deitsmall8_pretrain.pth dino_deitsmall8_linearweights.pth --out models/vits8-cls', 'DINO ViT-S/8 with its linear head'],
  ],
  reproduce: [
    ['uol reproduce --list --filter cub-mocov1', "the release's experiments and the main.py command each corresponds to"],
    ['uol reproduce cub-dinovit --data-dir data/ --metadata metadata/ --weights-dir weights/ --out repro/cub-dinovit', "run one with the release's data and checkpoint files; writes resultval.json / resulttest.json"],
  ],
  bench: [
    ['uol bench --suite matmul --quick', 'GFLOP/s per layer shape, wasm vs native kernels'],
    ['uol bench --suite localize --out bench/', 'images/s of the whole localize pipeline, written as JSON and Markdown'],
  ],
  serve: [
    ['uol serve', 'the web app at http://127.0.0.1:8080/: drop photos, fit w* and localize in the browser'],
    ['uol serve --port 0 --json', 'on any free port; prints {"url": …}'],
  ],
};
