package awsalb

import (
	"context"
	"errors"
	"fmt"
	"net"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/balanced-deploy/balanced/drivers"
)

// API error codes by class. Throttling and ServiceUnavailable are answered
// before the request is handled, so the change certainly did not happen.
var (
	unavailableCodes = map[string]bool{
		"Throttling": true, "ThrottlingException": true, "RequestLimitExceeded": true,
		"TooManyRequestsException": true, "ServiceUnavailable": true, "ServiceUnavailableException": true,
		"RequestThrottled": true, "PriorRequestNotComplete": true,
	}
	notFoundCodes = map[string]bool{
		"TargetGroupNotFound": true, "InvalidTarget": true,
	}
	invalidCodes = map[string]bool{
		"ValidationError": true, "InvalidParameterValue": true, "InvalidParameterCombination": true,
		"MissingParameter": true, "InvalidConfigurationRequest": true,
	}
	deniedCodes = map[string]bool{
		"AccessDenied": true, "AccessDeniedException": true, "UnauthorizedOperation": true,
		"InvalidClientTokenId": true, "SignatureDoesNotMatch": true, "ExpiredToken": true,
		"ExpiredTokenException": true, "UnrecognizedClientException": true, "AuthFailure": true,
	}
)

// classify wraps an SDK error with the drivers error class it belongs to.
// For a read (mutating false), any 5xx answer or network failure is
// ErrUnavailable; for a mutation only throttling, ServiceUnavailable and
// failures to connect are, because a 500 or a lost connection may follow a
// change that happened.
func classify(ctx context.Context, op string, mutating bool, err error) error {
	err = fmt.Errorf("awsalb: %s: %w", op, err)
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.ErrorCode()
		switch {
		case unavailableCodes[code]:
			return drivers.Classify(drivers.ErrUnavailable, err)
		case notFoundCodes[code]:
			return drivers.Classify(drivers.ErrNotFound, err)
		case invalidCodes[code]:
			return drivers.Classify(drivers.ErrInvalidArgument, err)
		case deniedCodes[code]:
			return drivers.Classify(drivers.ErrPermissionDenied, err)
		}
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() != 0 { // 0: nothing answered
		switch s := respErr.HTTPStatusCode(); {
		case s == 429 || s == 503:
			return drivers.Classify(drivers.ErrUnavailable, err)
		case s >= 500 && !mutating:
			return drivers.Classify(drivers.ErrUnavailable, err)
		}
		return err
	}
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var netErr net.Error
	notSent := (errors.As(err, &opErr) && opErr.Op == "dial") || errors.As(err, &dnsErr)
	if notSent || (!mutating && errors.As(err, &netErr)) {
		return drivers.Classify(drivers.ErrUnavailable, err)
	}
	return err
}
