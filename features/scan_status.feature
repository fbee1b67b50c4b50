@scan-status
Feature: The vulnerability scan status decides
  Scan results come from Trivy Operator VulnerabilityReports: a high or critical finding makes
  the image Fail, a medium one Warn, only low ones Pass. An image with no report is Unknown.
  The webhook watches the reports, so a new scan result changes the next decision at once,
  with no restart.

  Background:
    Given the image-assurance webhook is installed for namespaces labelled "apply-container-policies=true"
    And a namespace labelled "apply-container-policies=true"
    And the policy:
      """
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: scan-status-gate
      spec:
        order: 1
        rules:
          - action: Allow           # rule index 0
            imageScanStatus: {operator: IsOneOf, values: [Pass]}
          - action: Reject          # rule index 1
            imageScanStatus: {operator: IsOneOf, values: [Warn]}
          - action: Reject          # rule index 2
            imageScanStatus: {operator: IsOneOf, values: [Fail]}
          - action: Reject          # rule index 3
            imageScanStatus: {operator: IsOneOf, values: [Unknown]}
      """

  Scenario Outline: An image scanned <status> is <outcome>
    Given these scan results:
      | image                         | status   | scanned     |
      | registry.example.com/app:2.0  | <status> | 2 hours ago |
    When I create a Pod "app" with image "registry.example.com/app:2.0"
    Then it is <outcome>

    Examples:
      | status | outcome                                            |
      | Pass   | admitted                                           |
      | Warn   | rejected by policy "scan-status-gate" rule index 1 |
      | Fail   | rejected by policy "scan-status-gate" rule index 2 |

  Scenario: An image that was never scanned is Unknown
    When I create a Pod "app" with image "registry.example.com/never-scanned:1.0"
    Then it is rejected by policy "scan-status-gate" rule index 3

  Scenario: A scan result that changes changes the next decision, with no restart
    Given these scan results:
      | image                        | status | scanned     |
      | registry.example.com/app:2.0 | Pass   | 2 hours ago |
    When I create a Pod "first" with image "registry.example.com/app:2.0"
    Then it is admitted
    When the scan result of "registry.example.com/app:2.0" changes to Fail
    And I create a Pod "second" with image "registry.example.com/app:2.0"
    Then it is rejected by policy "scan-status-gate" rule index 2
    When the scan result of "registry.example.com/app:2.0" changes to Pass
    And I create a Pod "third" with image "registry.example.com/app:2.0"
    Then it is admitted
