#!/bin/sh
# One-shot set-up of MinIO for the portal (the `createbucket` service): the bucket, a policy limited to it,
# and the portal's own access key, so the application never holds MinIO's root credentials. Idempotent.
set -eu

mc alias set local "http://minio:9000" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "local/$S3_BUCKET"

policy=/tmp/portal-bucket-policy.json
cat >"$policy" <<JSON
{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["s3:GetBucketLocation", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::$S3_BUCKET"]},
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
     "Resource": ["arn:aws:s3:::$S3_BUCKET/*"]}
  ]
}
JSON
mc admin policy create local portal-bucket "$policy"
mc admin user add local "$S3_ACCESS_KEY_ID" "$S3_SECRET_ACCESS_KEY"
# `attach` fails when the policy is already attached (a re-run): accept that case only.
mc admin policy attach local portal-bucket --user "$S3_ACCESS_KEY_ID" \
  || mc admin user info local "$S3_ACCESS_KEY_ID" | grep -q portal-bucket
echo "bucket $S3_BUCKET ready for $S3_ACCESS_KEY_ID"
