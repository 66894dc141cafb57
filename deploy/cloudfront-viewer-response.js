// CloudFront Function for SmallImage's signed image links (viewer response).
//
// Browsers should keep an image exactly as long as its link works, as they do
// with the embedded storage and with S3 presigned links. A CloudFront signed
// URL made by SmallImage (a canned policy) carries the end of its life in its
// Expires parameter, in seconds since the epoch; this turns it into
// "Cache-Control: private, max-age=<seconds left>". CloudFront's own cache
// follows the distribution's cache policy and is not affected.
//
// Publish it as a CloudFront Function (runtime cloudfront-js-2.0) and associate
// it with the distribution's default behaviour as its viewer-response function.
// tests/gallery/test_s3.py runs it under Node.js on links the app signed.

function handler(event) {
    var response = event.response;
    var expires = event.request.querystring.Expires;
    var cacheable = response.statusCode === 200 || response.statusCode === 304;
    if (!cacheable || !expires || !/^[0-9]{1,12}$/.test(expires.value)) {
        return response;
    }
    var secondsLeft = parseInt(expires.value, 10) - Math.floor(Date.now() / 1000);
    response.headers['cache-control'] = {value: 'private, max-age=' + Math.max(0, secondsLeft)};
    return response;
}
