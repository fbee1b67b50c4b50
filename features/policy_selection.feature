@policy-selection
Feature: Which policies apply, and in which order
  A policy applies when its namespaceSelector matches the labels of the request's namespace
  and its selector matches the workload's own labels (both Calico selectors, all() when
  absent). Applicable policies are walked in ascending order (a policy without order comes
  last); the first rule that matches decides. A policy where no rule matches passes the image
  on to the next one, and an image no rule matches is allowed.

  Background:
    Given the image-assurance webhook is installed for namespaces labelled "apply-container-policies=true"

  Scenario Outline: The selector matches the workload's labels: team=<team> is <outcome>
    Given a namespace labelled "apply-container-policies=true"
    And the policy:
      """
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: payments-lockdown
      spec:
        selector: "team == 'payments'"
        rules:
          - action: Reject
      """
    When I create a Deployment "api" labelled "team=<team>" with image "registry.example.com/api:1.0"
    Then it is <outcome>

    Examples:
      | team     | outcome                                             |
      | payments | rejected by policy "payments-lockdown" rule index 0 |
      | search   | admitted                                            |

  Scenario Outline: The namespaceSelector matches the namespace's labels: environment=<environment> is <outcome>
    Given a namespace labelled "apply-container-policies=true, environment=<environment>"
    And the policy:
      """
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: production-only-gcr
      spec:
        namespaceSelector: "environment == 'production'"
        rules:
          - action: Reject
            imagePath: {operator: IsNoneOf, values: ['^gcr.io/']}
      """
    When I create a Pod "web" with image "nginx:1.27"
    Then it is <outcome>

    Examples:
      | environment | outcome                                               |
      | production  | rejected by policy "production-only-gcr" rule index 0 |
      | staging     | admitted                                              |

  Scenario Outline: The policy with the lower order decides first: <image> is <outcome>
    Given a namespace labelled "apply-container-policies=true"
    And these policies:
      """
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: trust-company-images
      spec:
        order: 1
        rules:
          - action: Allow
            imagePath: {operator: IsOneOf, values: ['^gcr.io/company/']}
      ---
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: reject-everything
      spec:
        order: 2
        rules:
          - action: Reject
      """
    When I create a Pod "app" with image "<image>"
    Then it is <outcome>

    Examples:
      | image                 | outcome                                             |
      | gcr.io/company/app:1  | admitted                                            |
      | docker.io/library/app | rejected by policy "reject-everything" rule index 0 |

  Scenario: Swapping the order swaps the decision
    Given a namespace labelled "apply-container-policies=true"
    And these policies:
      """
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: trust-company-images
      spec:
        order: 2
        rules:
          - action: Allow
            imagePath: {operator: IsOneOf, values: ['^gcr.io/company/']}
      ---
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: reject-everything
      spec:
        order: 1
        rules:
          - action: Reject
      """
    When I create a Pod "app" with image "gcr.io/company/app:1"
    Then it is rejected by policy "reject-everything" rule index 0

  Scenario: A policy without an order comes after every policy that has one
    Given a namespace labelled "apply-container-policies=true"
    And these policies:
      """
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: aaa-no-order
      spec:
        rules:
          - action: Reject
      ---
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: zzz-ordered
      spec:
        order: 100
        rules:
          - action: Reject
      """
    When I create a Pod "app" with image "gcr.io/company/app:1"
    Then it is rejected by policy "zzz-ordered" rule index 0

  Scenario: A policy in which no rule matches passes the image on to the next
    Given a namespace labelled "apply-container-policies=true"
    And these scan results:
      | image      | status | scanned   |
      | nginx:1.27 | Pass   | 1 day ago |
    And these policies:
      """
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: reject-failed-scans
      spec:
        order: 1
        rules:
          - action: Reject
            imageScanStatus: {operator: IsOneOf, values: [Fail]}
      ---
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: only-gcr
      spec:
        order: 2
        rules:
          - action: Reject
            imagePath: {operator: IsNoneOf, values: ['^gcr.io/']}
      """
    When I create a Pod "web" with image "nginx:1.27"
    Then it is rejected by policy "only-gcr" rule index 0

  Scenario: An image no rule matches is allowed by default
    Given a namespace labelled "apply-container-policies=true"
    And these scan results:
      | image      | status | scanned   |
      | nginx:1.27 | Pass   | 1 day ago |
    And the policy:
      """
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: reject-failed-scans
      spec:
        rules:
          - action: Reject
            imageScanStatus: {operator: IsOneOf, values: [Fail]}
      """
    When I create a Pod "web" with image "nginx:1.27"
    Then it is admitted

  Scenario: With no policy at all, everything is allowed
    Given a namespace labelled "apply-container-policies=true"
    When I create a Pod "web" with image "nginx:1.27"
    Then it is admitted

  Scenario: Criteria of one rule must all match
    Given a namespace labelled "apply-container-policies=true"
    And these scan results:
      | image                  | status | scanned   |
      | gcr.io/company/app:1.0 | Fail   | 1 day ago |
      | docker.io/tools/cli:2  | Fail   | 1 day ago |
    And the policy:
      """
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: failed-company-images
      spec:
        rules:
          - action: Reject
            imagePath: {operator: IsOneOf, values: ['^gcr.io/company/']}
            imageScanStatus: {operator: IsOneOf, values: [Fail]}
      """
    When I create a Pod "app" with image "gcr.io/company/app:1.0"
    Then it is rejected by policy "failed-company-images" rule index 0
    When I create a Pod "cli" with image "docker.io/tools/cli:2"
    Then it is admitted
