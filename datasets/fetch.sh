#!/usr/bin/env bash
# Downloads the datasets genrep uses from their original hosts and verifies them.
# Usage: datasets/fetch.sh [DIR]   (default: the folder this script is in)
set -euo pipefail
dir="${1:-$(cd "$(dirname "$0")" && pwd)}"
mkdir -p "$dir"/{mnist,cifar-10-batches-bin,ag_news_csv,bert-base-uncased,jigsaw_toxic}
cd "$dir"

get() { # url dest
  [ -s "$2" ] && { echo "have $2"; return; }
  echo "fetching $2"
  curl -fL --retry 3 -o "$2.part" "$1" && mv "$2.part" "$2"
}
check_md5() { # file md5
  echo "$2  $1" | md5sum -c --quiet - || { echo "checksum mismatch: $1" >&2; exit 1; }
}

m=https://storage.googleapis.com/cvdf-datasets/mnist
get $m/train-images-idx3-ubyte.gz mnist/train-images-idx3-ubyte.gz
get $m/train-labels-idx1-ubyte.gz mnist/train-labels-idx1-ubyte.gz
get $m/t10k-images-idx3-ubyte.gz mnist/t10k-images-idx3-ubyte.gz
get $m/t10k-labels-idx1-ubyte.gz mnist/t10k-labels-idx1-ubyte.gz
check_md5 mnist/train-images-idx3-ubyte.gz f68b3c2dcbeaaa9fbdd348bbdeb94873
check_md5 mnist/train-labels-idx1-ubyte.gz d53e105ee54ea40749a09fcbcd1e9432
check_md5 mnist/t10k-images-idx3-ubyte.gz 9fb629c4189551a2d022fa330f9573f3
check_md5 mnist/t10k-labels-idx1-ubyte.gz ec29112dd5afa0611ce80d1b7f02629c

if [ ! -s cifar-10-batches-bin/test_batch.bin ] && [ ! -s cifar-10-batches-bin/test_batch.bin.gz ]; then
  get https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz cifar-10-binary.tar.gz
  check_md5 cifar-10-binary.tar.gz c32a1d4ab5d03f1284b67883e8d87530
  tar -xzf cifar-10-binary.tar.gz && rm cifar-10-binary.tar.gz
fi
if [ -s cifar-10-batches-bin/data_batch_1.bin ]; then
  check_md5 cifar-10-batches-bin/data_batch_1.bin 5dd7e06a14cb22eb9f671a540d1b7c25
  check_md5 cifar-10-batches-bin/data_batch_2.bin 5ea93a67294ea407fff1d09f752e9692
  check_md5 cifar-10-batches-bin/data_batch_3.bin 942cd6a4bcdd0dd3c604fbe906cb4421
  check_md5 cifar-10-batches-bin/data_batch_4.bin ae636b3ba5c66a11e91e8cb52e771fcb
  check_md5 cifar-10-batches-bin/data_batch_5.bin 53f37980c15c3d472c316c40844f3f0d
  check_md5 cifar-10-batches-bin/test_batch.bin 803d5f7f4d78ea53de84dbe85f74fb6d
fi

a=https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv
get $a/test.csv ag_news_csv/test.csv
get $a/train.csv ag_news_csv/train.csv
get $a/classes.txt ag_news_csv/classes.txt
check_md5 ag_news_csv/test.csv d52ea96a97a2d943681189a97654912d
# The full train.csv is identified by its git blob id.
[ "$(git hash-object ag_news_csv/train.csv)" = 694aa19971315410e000404523796b76349d3c1d ] \
  || { echo "checksum mismatch: ag_news_csv/train.csv" >&2; exit 1; }

get https://huggingface.co/bert-base-uncased/resolve/main/vocab.txt bert-base-uncased/vocab.txt
check_md5 bert-base-uncased/vocab.txt 64800d5d8528ce344256daf115d4965e

if [ ! -s jigsaw_toxic/train_subset.csv ] && [ ! -s jigsaw_toxic/train_subset.csv.gz ]; then
  cat <<'MSG'
Jigsaw toxic comments need a Kaggle account. With the kaggle CLI configured:
  kaggle competitions download -c jigsaw-toxic-comment-classification-challenge -f train.csv.zip
  unzip train.csv.zip && mv train.csv jigsaw_toxic/train_subset.csv
MSG
fi
echo "done: $dir"
