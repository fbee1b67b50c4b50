@enforcement
Feature: Rolling policies out safely, and denials that explain themselves
  A platform team's first question about a policy is what it would break. A policy with
  `enforcement: Warn` or `Audit` never changes a decision: the decision is made by the
  `Enforce` policies alone. Each `Warn` or `Audit` policy that applies is also evaluated on its
  own, as if it were the only policy; what it would reject is told to the user as a warning
  (`Warn`), or only recorded in the audit annotation, the metrics and the audit reports
  (`Audit`). `serve --enforcement warn` treats every policy as `Warn`: a dry run for a first
  install. A denial keeps Calico's message, and a warning beside it says why: the rule, its
  criteria, and what of the image met them.

  The webhook also audits what runs: every few minutes (here every 15 seconds, as the harness
  installs it) and a few seconds after any policy or scan-data change, one replica evaluates
  every pod-creating object of the namespaces it covers as if it were created now, and publishes
  one `wgpolicyk8s.io/v1alpha2` PolicyReport per namespace and each policy's status: a `Ready`
  condition and the number of running workloads it would reject.

  Background:
    Given the image-assurance webhook is installed for namespaces labelled "apply-container-policies=true"
    And a namespace labelled "apply-container-policies=true"

  Scenario: A Warn policy admits, and the user sees what it would reject
    Given the policy "reject-failed-and-non-gcr" from the fixtures with enforcement Warn
    When I create a Deployment "web" with image "nginx:1.27"
    Then it is admitted
    And the user is warned:
      """
      Warn policy reject-failed-and-non-gcr would reject image "nginx:1.27" (container "web"): rule index 0 of ContainerPolicy reject-failed-and-non-gcr matched: imagePath IsNoneOf ['^gcr.io/company/production-repository/.*'] (image is docker.io/library/nginx:1.27)
      """

  Scenario: An Audit policy admits silently, and the audit reports what it would reject
    Given the policy "reject-failed-and-non-gcr" from the fixtures with enforcement Audit
    When I create a Deployment "web" with image "nginx:1.27"
    Then it is admitted
    And the user is not warned
    And soon the namespace's PolicyReport lists:
      | policy                    | rule     | result | kind       | name |
      | reject-failed-and-non-gcr | rules[0] | fail   | Deployment | web  |

  Scenario: A Warn policy does not change what an Enforce policy decides
    Given the policy "reject-failed-and-non-gcr" from the fixtures
    And the policy:
      """
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: only-pass
      spec:
        order: 1
        enforcement: Warn
        rules:
          - action: Allow
            imageScanStatus: {operator: IsOneOf, values: [Pass]}
          - action: Reject
      """
    When I create a Deployment "web" with image "nginx:1.27"
    Then it is rejected by policy "reject-failed-and-non-gcr" rule index 0
    And the user is warned:
      """
      Warn policy only-pass would reject image "nginx:1.27" (container "web"): rule index 1 of ContainerPolicy only-pass matched: the rule has no criteria, so it matches every image
      """

  Scenario: A denial says why beside Calico's message
    Given the policy "reject-failed-and-non-gcr" from the fixtures
    When I create a Deployment "web" with image "nginx:1.27"
    Then it is rejected by policy "reject-failed-and-non-gcr" rule index 0
    And the user is warned:
      """
      image "nginx:1.27" (container "web"): rule index 0 of ContainerPolicy reject-failed-and-non-gcr matched: imagePath IsNoneOf ['^gcr.io/company/production-repository/.*'] (image is docker.io/library/nginx:1.27)
      """

  Scenario: A denial by scan status says which status the image has
    Given the policy:
      """
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: reject-failed
      spec:
        rules:
          - action: Reject
            imageScanStatus: {operator: IsOneOf, values: [Fail]}
      """
    And these scan results:
      | image                                        | status | scanned   |
      | gcr.io/company/production-repository/api:1.2 | Fail   | 1 day ago |
    When I create a Deployment "api" with image "gcr.io/company/production-repository/api:1.2"
    Then it is rejected by policy "reject-failed" rule index 0
    And the user is warned:
      """
      image "gcr.io/company/production-repository/api:1.2" (container "api"): rule index 0 of ContainerPolicy reject-failed matched: imageScanStatus IsOneOf ['Fail'] (scan status is Fail)
      """

  @serial
  Scenario: The global dry run admits everything and warns what each policy would reject
    Given the policy "reject-failed-and-non-gcr" from the fixtures
    And the webhook is reinstalled to treat every policy as Warn
    When I create a Deployment "web" with image "nginx:1.27"
    Then it is admitted
    And the user is warned:
      """
      Warn policy reject-failed-and-non-gcr would reject image "nginx:1.27" (container "web"): rule index 0 of ContainerPolicy reject-failed-and-non-gcr matched: imagePath IsNoneOf ['^gcr.io/company/production-repository/.*'] (image is docker.io/library/nginx:1.27)
      """

  Scenario: A scan that turns Fail on a running Deployment shows in the audit, not in a rejection
    Given the policy "reject-failed-and-non-gcr" from the fixtures
    And these scan results:
      | image                                        | status | scanned   |
      | gcr.io/company/production-repository/api:1.2 | Pass   | 1 day ago |
    And an admitted Deployment "api" with image "gcr.io/company/production-repository/api:1.2"
    When the scan result of "gcr.io/company/production-repository/api:1.2" changes to Fail
    Then soon the namespace's PolicyReport lists:
      | policy                    | rule     | result | kind       | name |
      | reject-failed-and-non-gcr | rules[2] | fail   | Deployment | api  |
    And soon the policy "reject-failed-and-non-gcr" is Ready and counts 1 violation

  @serial
  Scenario: A policy that cannot be evaluated says so in its status
    Given the policy, stored while the webhook does not check policies:
      """
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: broken
      spec:
        rules:
          - action: Reject
            imagePath: {operator: IsOneOf, values: ['^gcr.io/(unclosed']}
      """
    Then soon the policy "broken" is not Ready, saying:
      """
      ContainerAdmissionPolicy broken: field `spec.rules[0].imagePath.values[0]`
      """
