// The individual credential sources that NewDefaultCredentialsChain() assembles, exposed
// for tests and for callers that want one source only.
//
// Contract of every provider's Get(): kNotFound means "this source is not configured
// here (or, for IMDS, not reachable)" and the message says what was looked at; the chain
// then moves on. Any other error means the source is configured but failed (a missing
// named profile, STS refusing the token); the chain stops and reports it.
// All providers are thread-safe. The expiring sources (web identity, container, IMDS)
// come wrapped in a cache that refreshes kRefreshAhead before expiry.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "s3/credentials.h"

namespace s3m {

// Always returns `credentials` (source "explicit" when empty).
std::unique_ptr<CredentialsProvider> NewStaticCredentialsProvider(Credentials credentials);

// AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY [+ AWS_SESSION_TOKEN].
std::unique_ptr<CredentialsProvider> NewEnvironmentCredentialsProvider(
    const CredentialsOptions& options);

// aws_access_key_id / aws_secret_access_key / aws_session_token of the profile in the
// shared credentials and config files.
std::unique_ptr<CredentialsProvider> NewProfileCredentialsProvider(
    const CredentialsOptions& options);

// STS AssumeRoleWithWebIdentity with AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, or the
// profile's web_identity_token_file + role_arn.
std::unique_ptr<CredentialsProvider> NewWebIdentityCredentialsProvider(
    const CredentialsOptions& options);

// The ECS/EKS container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI).
std::unique_ptr<CredentialsProvider> NewContainerCredentialsProvider(
    const CredentialsOptions& options);

// The EC2 instance role through IMDSv2.
std::unique_ptr<CredentialsProvider> NewImdsCredentialsProvider(const CredentialsOptions& options);

// Caches what `inner` returns until kRefreshAhead before its expiration (forever when it
// has none). One refresh at a time; other callers wait for it, or get the old
// credentials while they are still valid. A failed refresh keeps serving unexpired
// credentials. `clock` must outlive the provider.
std::unique_ptr<CredentialsProvider> NewCachingCredentialsProvider(
    std::unique_ptr<CredentialsProvider> inner, Clock* clock);

// Tries `providers` in order (see the contract above), remembers which one answered and
// asks it first next time; if it fails, resolves again from the top.
std::unique_ptr<CredentialsProvider> NewCredentialsChain(
    std::vector<std::unique_ptr<CredentialsProvider>> providers);

}  // namespace s3m
