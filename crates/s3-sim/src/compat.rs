//! What s3s-fs answers differently from S3, made to answer as S3 does.
//!
//! * An empty `delimiter` (`?list-type=2&delimiter=&prefix=…`, which s3fs — and so
//!   NautilusTrader reading a catalog through fsspec — sends for every recursive listing) means
//!   "no delimiter" on S3; s3s-fs takes it as a delimiter that splits every key after its
//!   first character, so `find`/`glob` found nothing. It is dropped before the listing.

use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, CopyObjectInput, CopyObjectOutput, CreateBucketInput,
    CreateBucketOutput, CreateMultipartUploadInput, CreateMultipartUploadOutput, DeleteBucketInput,
    DeleteBucketOutput, DeleteObjectInput, DeleteObjectOutput, DeleteObjectsInput,
    DeleteObjectsOutput, GetBucketLocationInput, GetBucketLocationOutput, GetObjectInput,
    GetObjectOutput, HeadBucketInput, HeadBucketOutput, HeadObjectInput, HeadObjectOutput,
    ListBucketsInput, ListBucketsOutput, ListObjectsInput, ListObjectsOutput, ListObjectsV2Input,
    ListObjectsV2Output, ListPartsInput, ListPartsOutput, PutObjectInput, PutObjectOutput,
    UploadPartCopyInput, UploadPartCopyOutput, UploadPartInput, UploadPartOutput,
};
use s3s::{S3, S3Request, S3Response, S3Result};

/// An S3 backend with S3's meaning of an empty `delimiter`.
pub(crate) struct Compat<T>(pub(crate) T);

#[async_trait::async_trait]
impl<T: S3> S3 for Compat<T> {
    async fn list_objects_v2(
        &self,
        mut req: S3Request<ListObjectsV2Input>,
    ) -> S3Result<S3Response<ListObjectsV2Output>> {
        if req.input.delimiter.as_deref() == Some("") {
            req.input.delimiter = None;
        }
        self.0.list_objects_v2(req).await
    }

    async fn list_objects(
        &self,
        mut req: S3Request<ListObjectsInput>,
    ) -> S3Result<S3Response<ListObjectsOutput>> {
        if req.input.delimiter.as_deref() == Some("") {
            req.input.delimiter = None;
        }
        self.0.list_objects(req).await
    }

    // Passed on unchanged.
    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        self.0.abort_multipart_upload(req).await
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        self.0.complete_multipart_upload(req).await
    }

    async fn copy_object(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> S3Result<S3Response<CopyObjectOutput>> {
        self.0.copy_object(req).await
    }

    async fn create_bucket(
        &self,
        req: S3Request<CreateBucketInput>,
    ) -> S3Result<S3Response<CreateBucketOutput>> {
        self.0.create_bucket(req).await
    }

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        self.0.create_multipart_upload(req).await
    }

    async fn delete_bucket(
        &self,
        req: S3Request<DeleteBucketInput>,
    ) -> S3Result<S3Response<DeleteBucketOutput>> {
        self.0.delete_bucket(req).await
    }

    async fn delete_object(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> S3Result<S3Response<DeleteObjectOutput>> {
        self.0.delete_object(req).await
    }

    async fn delete_objects(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> S3Result<S3Response<DeleteObjectsOutput>> {
        self.0.delete_objects(req).await
    }

    async fn get_bucket_location(
        &self,
        req: S3Request<GetBucketLocationInput>,
    ) -> S3Result<S3Response<GetBucketLocationOutput>> {
        self.0.get_bucket_location(req).await
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        self.0.get_object(req).await
    }

    async fn head_bucket(
        &self,
        req: S3Request<HeadBucketInput>,
    ) -> S3Result<S3Response<HeadBucketOutput>> {
        self.0.head_bucket(req).await
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        self.0.head_object(req).await
    }

    async fn list_buckets(
        &self,
        req: S3Request<ListBucketsInput>,
    ) -> S3Result<S3Response<ListBucketsOutput>> {
        self.0.list_buckets(req).await
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        self.0.list_parts(req).await
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        self.0.put_object(req).await
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        self.0.upload_part(req).await
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        self.0.upload_part_copy(req).await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn request(prefix: &str, delimiter: Option<&str>) -> S3Request<ListObjectsV2Input> {
        let input = ListObjectsV2Input::builder()
            .bucket("bucket".into())
            .prefix(Some(prefix.into()))
            .delimiter(delimiter.map(Into::into))
            .build()
            .unwrap();
        S3Request {
            input,
            method: http::Method::GET,
            uri: http::Uri::from_static("/bucket"),
            headers: http::HeaderMap::new(),
            extensions: http::Extensions::new(),
            credentials: None,
            region: None,
            service: None,
            trailing_headers: None,
        }
    }

    async fn keys(list: S3Result<S3Response<ListObjectsV2Output>>) -> Vec<String> {
        list.unwrap()
            .output
            .contents
            .unwrap_or_default()
            .into_iter()
            .filter_map(|o| o.key)
            .collect()
    }

    /// s3fs lists recursively with `delimiter=` (empty): S3 lists every key under the prefix.
    #[tokio::test]
    async fn an_empty_delimiter_lists_every_key_under_the_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("bucket/catalog/data/oi/BTC");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(data.join("a.parquet"), b"x").unwrap();
        std::fs::write(data.join("b.parquet"), b"y").unwrap();
        let s3 = Compat(s3s_fs::FileSystem::new(dir.path()).unwrap());
        let expected = vec![
            "catalog/data/oi/BTC/a.parquet".to_string(),
            "catalog/data/oi/BTC/b.parquet".to_string(),
        ];
        for prefix in ["catalog/data/oi/BTC", "catalog/data/oi/BTC/", "catalog/"] {
            let mut found = keys(s3.list_objects_v2(request(prefix, Some(""))).await).await;
            found.sort();
            assert_eq!(found, expected, "prefix {prefix:?}, delimiter \"\"");
            let mut without = keys(s3.list_objects_v2(request(prefix, None)).await).await;
            without.sort();
            assert_eq!(without, expected, "prefix {prefix:?}, no delimiter");
        }
    }
}
