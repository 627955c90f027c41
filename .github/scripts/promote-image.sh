#!/usr/bin/env bash
# Promote one image by digest into a stack's own ECR repository, then make the stack deploy exactly it.
#
#   promote-image.sh STACK SOURCE     SOURCE: <registry>/<repository>@sha256:<64 hex>, what the previous
#                                     stage deployed (its `appImage` output)
#
# 1. sets the stack's `imageDigest` (the program then builds and pushes nothing, and runs
#    <its repository>@<that digest> everywhere);
# 2. on the stack's first deploy, creates only its image repository (a targeted `pulumi up`), so the image
#    has somewhere to go before anything runs it;
# 3. copies the manifest byte for byte: `docker buildx imagetools create --prefer-index=false` with one
#    source makes a carbon copy instead of wrapping it in an index (docker/buildx
#    docs/reference/buildx_imagetools_create.md, --prefer-index), so the digest stays the same; the tag is
#    the digest itself (sha256-<hex>), so a tag can only ever name this content, and a digest already in
#    the repository (a retried job) is not pushed again: nothing is ever pushed to an existing tag;
# 4. writes `digest=` and `image=` to $GITHUB_OUTPUT.
set -euo pipefail

if [ "$#" -ne 2 ]; then
  echo "usage: $0 STACK <registry>/<repository>@sha256:<64 hex>" >&2
  exit 2
fi
stack="$1"
source_image="$2"
if ! [[ "$source_image" =~ ^[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$ ]]; then
  echo "::error::the image to promote must be <registry>/<repository>@sha256:<64 hex>, got '${source_image}'" >&2
  exit 2
fi
digest="${source_image##*@}"

pulumi config set --stack "$stack" imageDigest "$digest"

repository_url() {
  # From the state rather than the stack outputs: a targeted update leaves the outputs as they were.
  pulumi stack export --stack "$stack" | python3 -c '
import json, sys
resources = json.load(sys.stdin).get("deployment", {}).get("resources") or []
urls = [r.get("outputs", {}).get("repositoryUrl") for r in resources
        if r.get("type") == "aws:ecr/repository:Repository" and "stateless:registry:ImageRepository" in r.get("urn", "")]
print(urls[0] if urls and urls[0] else "")
'
}

repo="$(repository_url)"
if [ -z "$repo" ]; then
  echo "first deploy of ${stack}: creating its image repository alone"
  # URN globs: pulumi/pulumi pkg/resource/deploy/deployment.go NewUrnTargets (a target with '*' is a glob).
  pulumi up --yes --skip-preview --stack "$stack" --target '**::stateless:registry:ImageRepository**'
  repo="$(repository_url)"
fi
if [ -z "$repo" ]; then
  echo "::error::stack ${stack} has no image repository after the targeted update" >&2
  exit 1
fi

name="${repo#*/}"
for registry in "${source_image%%/*}" "${repo%%/*}"; do
  aws ecr get-login-password | docker login --username AWS --password-stdin "$registry" >/dev/null
done
if aws ecr describe-images --repository-name "$name" --image-ids "imageDigest=${digest}" >/dev/null 2>&1; then
  echo "${repo}@${digest} is already there: nothing to copy"
else
  docker buildx imagetools create --prefer-index=false --tag "${repo}:sha256-${digest#sha256:}" "$source_image"
fi
# The copy must have kept the digest; otherwise the stack would run bytes no stage has run.
aws ecr describe-images --repository-name "$name" --image-ids "imageDigest=${digest}" >/dev/null

{
  echo "digest=${digest}"
  echo "image=${repo}@${digest}"
} >> "${GITHUB_OUTPUT:-/dev/null}"
