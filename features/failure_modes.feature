@failure-modes
Feature: When the webhook or its scan data is unavailable
  With failurePolicy Fail (the default) nothing is admitted in a checked namespace while the
  webhook cannot be reached; with Ignore everything is. When the webhook runs but cannot read
  its scan data, a decision that needs scan data fails closed, saying why; rules that decide
  before any scan criterion still decide.

  Background:
    Given the image-assurance webhook is installed for namespaces labelled "apply-container-policies=true"
    And a namespace labelled "apply-container-policies=true"
    And the policy "reject-failed-and-non-gcr" from the fixtures

  @serial
  Scenario: With failurePolicy Fail, a down webhook admits nothing
    When the webhook's Deployment is scaled to 0 replicas
    And I create a Pod "web" with image "gcr.io/company/production-repository/api:1.2"
    Then it is rejected with:
      """
      Internal error occurred: failed calling webhook "image-assurance.tigera.io": failed to call webhook: Post "https://tigera-image-assurance-admission-controller-service.tigera-image-assurance.svc:443/admission-review?timeout=5s": no endpoints available for service "tigera-image-assurance-admission-controller-service"
      """

  @serial
  Scenario: With failurePolicy Ignore, a down webhook admits everything
    Given the webhook's failurePolicy is Ignore
    When the webhook's Deployment is scaled to 0 replicas
    And I create a Pod "web" with image "nginx:1.27"
    Then it is admitted

  # The scan-results file lives in a Secret volume, which the kubelet refreshes (a real one
  # within about a minute). Readiness means "this replica can answer": the webhook stays ready
  # while its scan data is unreadable, so users read the reason, not the API server's generic
  # "no endpoints", and rules that need no scan data still decide.
  @serial
  Scenario: Unreadable scan data fails closed with the reason while the webhook stays ready
    Given the webhook also reads a scan-results file
    And these scan results:
      | image                                        | status | scanned   |
      | gcr.io/company/production-repository/api:1.2 | Pass   | 1 day ago |
    When the scan-results file becomes unreadable
    Then soon a Pod "web" with image "gcr.io/company/production-repository/api:1.2" is rejected with a message containing:
      """
      admission webhook "image-assurance.tigera.io" denied the request: image "gcr.io/company/production-repository/api:1.2" (container "web"): scan data is unavailable: the scan-results file is unavailable:
      (needed by ContainerPolicy reject-failed-and-non-gcr rule index 1)
      """
    And the webhook's Pods stay ready, their metrics reporting the scan-results file unavailable
    When I create a Pod "web" with image "nginx:1.27"
    Then it is rejected with:
      """
      admission webhook "image-assurance.tigera.io" denied the request: image "nginx:1.27" (container "web"): Action 'Reject' enforced by ContainerPolicy reject-failed-and-non-gcr rule index 0
      """
