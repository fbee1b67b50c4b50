@installation
Feature: Installing the webhook
  The installer (`image-assurance certs` and `image-assurance manifests`) makes a CA and a
  serving certificate for the webhook's Service, and every object the webhook needs. The API
  server checks the certificate against <service>.<namespace>.svc. Policies are checked when
  they are applied: what the CRD schema cannot express (selectors, regular expressions, a
  duration and a time together) the webhook's policy validation refuses, naming the field.

  Background:
    Given the image-assurance webhook is installed for namespaces labelled "apply-container-policies=true"

  Scenario: The serving certificate names the Service the API server calls
    Then the webhook's serving certificate is valid for "tigera-image-assurance-admission-controller-service.tigera-image-assurance.svc"
    And the webhook's serving certificate is valid for "tigera-image-assurance-admission-controller-service.tigera-image-assurance.svc.cluster.local"

  Scenario: The webhook is ready behind its Service
    Then the webhook has 2 ready Pods behind its Service

  Scenario: A policy with both a duration and a time is refused when it is applied
    Given a namespace labelled "apply-container-policies=true"
    When I apply the policy:
      """
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: scan-window
      spec:
        rules:
          - action: Reject
            imageLastScan:
              operator: lt
              duration: {days: 3}
              time: "2026-01-01T00:00:00Z"
      """
    Then it is rejected with:
      """
      admission webhook "policies.image-assurance.tigera.io" denied the request: ContainerAdmissionPolicy scan-window: field `spec.rules[0].imageLastScan`: set either `duration` or `time`, not both
      """

  @serial
  Scenario: A policy with an invalid selector is refused, naming the position of the error
    Given a namespace labelled "apply-container-policies=true"
    When I apply the policy:
      """
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: payments-only
      spec:
        selector: "team = 'payments'"
        rules:
          - action: Reject
      """
    Then it is rejected with:
      """
      admission webhook "policies.image-assurance.tigera.io" denied the request: ContainerAdmissionPolicy payments-only: field `spec.selector`: invalid selector "team = 'payments'": unexpected character '=' (did you mean `==`?) at position 5
      """

  Scenario: A valid policy is accepted
    Given a namespace labelled "apply-container-policies=true"
    When I apply the policy:
      """
      apiVersion: containersecurity.tigera.io/v1beta1
      kind: ContainerAdmissionPolicy
      metadata:
        name: valid
      spec:
        selector: "team == 'payments'"
        rules:
          - action: Reject
      """
    Then it is admitted
